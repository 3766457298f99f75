"""A run's folder: every file a run writes there, named once."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunFolder"]


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def last(self) -> Path:
        """Everything to continue the run (``--resume``)."""
        return self.path / "last.pt"

    @property
    def weights(self) -> Path:
        """The last epoch's weights."""
        return self.path / "model.safetensors"

    @property
    def ema_weights(self) -> Path:
        return self.path / "model_ema.safetensors"

    @property
    def best_weights(self) -> Path:
        """The weights of the epoch with the best val top-1."""
        return self.path / "best.safetensors"

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def curves(self) -> Path:
        return self.path / "curves.png"

    @property
    def log(self) -> Path:
        return self.path / "train.log"

    @property
    def events(self) -> Path:
        """TensorBoard's folder."""
        return self.path / "tensorboard"

    def holds_a_run(self) -> bool:
        return self.last.exists()

    def remove_run(self) -> None:
        """Delete what a run wrote here, and nothing else of the folder."""
        for path in (self.last, self.weights, self.ema_weights, self.best_weights, self.config, self.metrics,
                     self.curves, self.log):  # fmt: skip
            path.unlink(missing_ok=True)
        shutil.rmtree(self.events, ignore_errors=True)
