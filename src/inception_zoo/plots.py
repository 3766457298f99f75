"""PNG figures: a run's learning curves and an evaluation's confusion matrix.

matplotlib's ``Figure`` drawn without pyplot: no screen needed, and no global backend or state
changed for a program that uses matplotlib itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._files import atomic_output
from .errors import needs_extra

with needs_extra("train", "figures (learning curves, confusion matrices)"):
    from matplotlib.figure import Figure

__all__ = ["plot_confusion", "plot_curves"]


def plot_curves(metrics: list[dict], path: Path) -> None:
    """Loss, top-1 accuracy and learning rate against epochs, in one PNG."""
    epochs = [row["epoch"] for row in metrics]
    fig = Figure(figsize=(13, 3.6), layout="constrained")
    loss_ax, acc_ax, lr_ax = fig.subplots(1, 3)
    for key, label in (("train_loss", "train"), ("val_loss", "val"), ("ema_val_loss", "val (EMA)")):
        if key in metrics[0]:
            loss_ax.plot(epochs, [row[key] for row in metrics], marker="o", label=label)
    for key, label in (("train_top1", "train top-1"), ("val_top1", "val top-1"), ("val_top5", "val top-5"),
                       ("ema_val_top1", "val top-1 (EMA)")):  # fmt: skip
        if key in metrics[0]:
            acc_ax.plot(epochs, [row[key] for row in metrics], marker="o", label=label)
    lr_ax.plot(epochs, [row["lr"] for row in metrics], marker="o")
    for ax, title in ((loss_ax, "loss"), (acc_ax, "accuracy (%)"), (lr_ax, "learning rate (end of epoch)")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    loss_ax.legend()
    acc_ax.legend()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=100)


def plot_confusion(confusion: list[list[int]], labels: list[str], path: str | Path, *, title: str = "") -> Path:
    """Rows: true class; columns: predicted class; each row normalised to its class's images.

    Past 30 classes the class names are left off the axes (the matrix is still drawn).
    """
    counts = np.asarray(confusion, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(counts)
    side = min(4 + 0.35 * n, 16)
    fig = Figure(figsize=(side, side), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    if n <= 30:
        ax.set_xticks(range(n), labels[:n], rotation=90)
        ax.set_yticks(range(n), labels[:n])
        if n <= 15:
            for (i, j), value in np.ndenumerate(counts):
                if value:
                    ax.text(j, i, int(value), ha="center", va="center", color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=100)
    return Path(path)
