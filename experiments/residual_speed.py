"""Do residual connections speed up the training of an Inception network?

The Inception-v4 paper's claim (abstract; sections 2 and 6): "training with residual
connections accelerates the training of Inception networks significantly". Here, at small
scale: two networks that differ only in the shortcut (the same towers, the same linear 1x1
projection, so the same parameters and multiply-adds), trained from the same initial weights on
the same batches, over several seeds, with the paper's recipe; their training loss and
validation accuracy against the step.

    python experiments/residual_speed.py            # the full run: docs/experiments/residual_speed.{png,md,json}
    python experiments/residual_speed.py --quick    # a smoke test in seconds, into runs/experiments/quick/
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from matplotlib.figure import Figure

import common

NAME = "residual_speed"
THRESHOLD = 90.0  # "steps to reach" this validation top-1, %
SMOOTH = 10  # steps in the moving average of the plotted training loss


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps of tiny networks: checks that it all runs")
    parser.add_argument("--seeds", type=int, default=3, help="runs per network, seeds 0..N-1 (default: 3)")
    parser.add_argument("--steps", type=int, default=600, help="optimizer steps per run (default: 600)")
    parser.add_argument("--width", type=int, default=32, help="channels at 16x16; twice that at 8x8 (default: 32)")
    parser.add_argument("--blocks", type=int, default=6, help="Inception blocks per grid size (default: 6)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=None, help="base learning rate (default: the paper's 0.045)")
    parser.add_argument("--eval-every", type=int, default=25, help="steps between validation passes (default: 25)")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch.set_num_threads (default: 1; 2 is faster on two idle cores, but on a shared machine two "
        "threads that wait for each other made steps up to 20 times slower)",
    )  # fmt: skip
    parser.add_argument("--output", help="folder for the figure, table and data (default: docs/experiments)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.steps, args.width, args.blocks, args.batch_size, args.eval_every = 1, 8, 8, 1, 16, 4
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    common.configure(args.threads)
    clock = common.Clock()
    data = common.load_digits()
    networks = {"residual": True, "plain": False}
    runs: dict[str, list[common.History]] = {name: [] for name in networks}
    cost = {}
    for seed in range(args.seeds):
        for name, residual in networks.items():
            common.seed_everything(seed)  # the same initial weights for both: the shortcut has none
            model = common.SmallInception(width=args.width, blocks=args.blocks, residual=residual)
            cost[name] = (common.count_params(model), common.count_macs(model))
            history = common.train_run(
                model, data, steps=args.steps, seed=seed, batch_size=args.batch_size, lr=args.lr,
                eval_every=args.eval_every,
            )  # fmt: skip
            runs[name].append(history)
            print(
                f"{name} seed {seed}: final loss {history.loss[-1]:.3f}, val top-1 {history.val_top1[-1]:.1f}% "
                f"({history.seconds:.0f} s)",
                flush=True,
            )
    wall, cpu = clock.seconds()
    folder = common.output_folder(args.output, args.quick)
    plot(runs, folder / f"{NAME}.png")
    (folder / f"{NAME}.md").write_text(table(args, runs, cost, wall, cpu))
    common.write_json(
        folder / f"{NAME}.json",
        {
            "args": vars(args),
            "date": common.today(),
            "machine": common.machine(),
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "cost": {name: {"params": p, "macs": m} for name, (p, m) in cost.items()},
            "runs": {name: [common.history_dict(h) for h in histories] for name, histories in runs.items()},
        },
    )
    print(f"wrote {folder / NAME}.png, .md and .json in {wall:.0f} s ({cpu:.0f} s of CPU)")
    return 0


def steps_to(history: common.History, threshold: float) -> int | None:
    """The first evaluated step whose validation top-1 reaches ``threshold``; None if none does."""
    return next((s for s, top1 in zip(history.eval_steps, history.val_top1, strict=True) if top1 >= threshold), None)


def val_at(history: common.History, step: int) -> float:
    """Validation top-1 at the last evaluation at or before ``step``."""
    values = [top1 for s, top1 in zip(history.eval_steps, history.val_top1, strict=True) if s <= step]
    return values[-1] if values else float("nan")


def spread(values: list[float], digits: int = 1, unit: str = "") -> str:
    """mean (min-max) over the seeds; "-" when there is nothing to average."""
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return "-"
    if len(finite) == 1:
        return f"{finite[0]:.{digits}f}{unit}"
    return f"{np.mean(finite):.{digits}f}{unit} ({min(finite):.{digits}f}-{max(finite):.{digits}f})"


def table(args, runs, cost, wall: float, cpu: float) -> str:
    steps = args.steps
    marks = sorted({max(1, steps // 4), max(1, steps // 2), steps})
    lines = [
        f"Written by `python experiments/{NAME}.py{' --quick' if args.quick else ''}` on {common.today()} "
        f"({common.machine()}); {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU.",
        "",
        f"{args.seeds} seed(s) x 2 networks, {steps} steps of batch {args.batch_size} (the Inception-v4 "
        f"recipe, lr {args.lr or 0.045:g}); {args.blocks} blocks per grid size, width {args.width} / "
        f"{2 * args.width}; digits 32x32, jittered.",
        "",
        "| network | params | MACs / image | steps to "
        f"{THRESHOLD:.0f}% val top-1 | "
        + " | ".join(f"val top-1 at step {m}" for m in marks)
        + " | final train loss |",
        "|---|---|---|---|" + "---|" * len(marks) + "---|",
    ]
    for name, histories in runs.items():
        params, macs = cost[name]
        reached = [steps_to(h, THRESHOLD) for h in histories]
        reach = spread([r for r in reached if r is not None], 0)
        if any(r is None for r in reached):
            reach += f" ({sum(r is None for r in reached)} of {len(reached)} never)"
        final_loss = [float(np.mean(h.loss[-SMOOTH:])) for h in histories]
        lines.append(
            f"| {name} | {params:,} | {macs / 1e6:.1f} M | {reach} | "
            + " | ".join(spread([val_at(h, m) for h in histories], unit="%") for m in marks)
            + f" | {spread(final_loss, 3)} |"
        )
    lines += [
        "",
        "Each cell: mean (min-max) over the seeds. Val top-1 is on the 360 held-out digits, unjittered; "
        f"the final train loss is the mean of the last {SMOOTH} batches'.",
        "",
    ]
    return "\n".join(lines)


def plot(runs, path) -> None:
    fig = Figure(figsize=(11, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    colours = {"residual": "tab:blue", "plain": "tab:orange"}
    for name, histories in runs.items():
        for i, h in enumerate(histories):
            label = name if i == 0 else None
            loss_ax.plot(h.steps, common.smooth(h.loss, SMOOTH), color=colours[name], alpha=0.8, lw=1.2, label=label)
            acc_ax.plot(h.eval_steps, h.val_top1, color=colours[name], alpha=0.8, lw=1.2, marker=".", label=label)
    loss_ax.set(title=f"training loss ({SMOOTH}-step moving average)", xlabel="step", yscale="log")
    acc_ax.set(title="validation top-1 (%)", xlabel="step", ylim=(0, 100))
    acc_ax.axhline(common.CHANCE, color="grey", lw=0.8, ls=":")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend(title="one line per seed")
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
