"""Does scaling the residuals keep a wide residual Inception alive at a high learning rate?

The Inception-v4 paper (section 3.3): with more than 1,000 filters the residual variants
"died" early in training, "the last layer before the average pooling started to produce only
zeros", and scaling the residuals by 0.1-0.3 before the addition stabilised them. Here, at small
scale: one wide residual Inception, the same initial weights and batches, trained at a high
learning rate with each residual scale; for each run, whether and when it collapsed
(``common.find_collapse``: a non-finite loss, or that layer at fewer than 1 in 1,000 non-zero
entries to the end).

    python experiments/residual_scaling.py          # the full run: docs/experiments/residual_scaling.{png,md,json}
    python experiments/residual_scaling.py --quick  # a smoke test in seconds, into runs/experiments/quick/
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from matplotlib.figure import Figure

import common

NAME = "residual_scaling"
SMOOTH = 10
FLOOR = 1e-5  # where an all-zero feature map is drawn on the log axis


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps of a narrow network: checks that it all runs")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.3, 0.1], help="(default: 1.0 0.3 0.1)")
    parser.add_argument(
        "--lrs", type=float, nargs="+", default=[0.1, 0.3, 1.0],
        help="base learning rates, each a run per scale and seed (default: 0.1 0.3 1.0, about 2, 7 and 22 times "
        "the paper's 0.045)",
    )  # fmt: skip
    parser.add_argument("--seeds", type=int, default=3, help="runs per scale and rate, seeds 0..N-1 (default: 3)")
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per run (default: 300)")
    parser.add_argument("--width", type=int, default=128, help="channels of the residual blocks (default: 128)")
    parser.add_argument("--blocks", type=int, default=6, help="residual blocks (default: 6)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-every", type=int, default=20, help="steps between validation passes (default: 20)")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch.set_num_threads (default: 1; 2 is faster on two idle cores, but on a shared machine two "
        "threads that wait for each other made steps up to 20 times slower)",
    )  # fmt: skip
    parser.add_argument("--output", help="folder for the figure, table and data (default: docs/experiments)")
    args = parser.parse_args(argv)
    if args.quick:
        args.scales, args.lrs, args.seeds, args.steps, args.width, args.blocks, args.batch_size, args.eval_every = (
            [1.0, 0.1], [1.0], 1, 8, 32, 1, 16, 4,
        )  # fmt: skip
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    common.configure(args.threads)
    clock = common.Clock()
    data = common.load_digits()
    runs: dict[tuple[float, float], list[common.History]] = {
        (lr, scale): [] for lr in args.lrs for scale in args.scales
    }
    params = macs = 0
    for seed in range(args.seeds):
        for lr, scale in runs:
            common.seed_everything(seed)  # the same initial weights for every scale: the scale is not a weight
            model = common.WideInception(width=args.width, blocks=args.blocks, scale=scale)
            params, macs = common.count_params(model), common.count_macs(model)
            history = common.train_run(
                model, data, steps=args.steps, seed=seed, batch_size=args.batch_size, lr=lr,
                eval_every=args.eval_every,
            )  # fmt: skip
            runs[lr, scale].append(history)
            collapse = common.find_collapse(history.steps, history.loss, history.alive)
            print(
                f"lr {lr:g} scale {scale:g} seed {seed}: {describe(collapse)}, val top-1 "
                f"{history.val_top1[-1] if history.val_top1 else float('nan'):.1f}% ({history.seconds:.0f} s)",
                flush=True,
            )
    wall, cpu = clock.seconds()
    folder = common.output_folder(args.output, args.quick)
    plot(runs, folder / f"{NAME}.png")
    (folder / f"{NAME}.md").write_text(table(args, runs, params, macs, wall, cpu))
    common.write_json(
        folder / f"{NAME}.json",
        {
            "args": vars(args),
            "date": common.today(),
            "machine": common.machine(),
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "params": params,
            "macs": macs,
            "collapse_definition": {"dead_below": common.DEAD_BELOW, "dead_for": common.DEAD_FOR},
            "runs": [
                {"lr": lr, "scale": scale, "seeds": [common.history_dict(h) for h in histories]}
                for (lr, scale), histories in runs.items()
            ],
        },
    )
    print(f"wrote {folder / NAME}.png, .md and .json in {wall:.0f} s ({cpu:.0f} s of CPU)")
    return 0


def describe(collapse: common.Collapse) -> str:
    return f"{collapse.kind} at step {collapse.step}" if collapse.step is not None else "no collapse"


def table(args, runs, params: int, macs: int, wall: float, cpu: float) -> str:
    lines = [
        f"Written by `python experiments/{NAME}.py{' --quick' if args.quick else ''}` on {common.today()} "
        f"({common.machine()}); {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU.",
        "",
        f"One wide residual Inception ({args.blocks} blocks of width {args.width}; {params:,} parameters, "
        f"{macs / 1e6:.1f} M MACs per 32x32 image), trained {args.steps} steps of batch {args.batch_size} with "
        "the Inception-v4 recipe at each learning rate, from the same initial weights for each scale; digits "
        "32x32, jittered.",
        "",
        "Collapse: *diverged* = a non-finite training loss; *died* = the last feature map (the input of the "
        f"average pool) has fewer than {common.DEAD_BELOW:g} of its entries non-zero from that step to the end "
        f"(at least {common.DEAD_FOR} steps).",
        "",
        "| lr | scale | runs that collapsed | at steps | final val top-1 | final non-zero fraction |",
        "|---|---|---|---|---|---|",
    ]
    for (lr, scale), histories in runs.items():
        collapses = [common.find_collapse(h.steps, h.loss, h.alive) for h in histories]
        at = ", ".join(f"{c.step} ({c.kind})" for c in collapses if c.step is not None) or "-"
        val = ", ".join(f"{h.val_top1[-1]:.1f}%" if h.val_top1 else "-" for h in histories)
        alive = ", ".join(f"{h.alive[-1]:.4f}" for h in histories)
        lines.append(
            f"| {lr:g} | {scale:g} | {sum(c.step is not None for c in collapses)} of {len(collapses)} | {at} | "
            f"{val} | {alive} |"
        )
    lines += [
        "",
        "Every run (seed 0, 1, ...):",
        "",
        "| lr | scale | seed | collapse | final val top-1 | lowest non-zero fraction (step) | "
        "largest feature RMS | final train loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (lr, scale), histories in runs.items():
        for seed, h in enumerate(histories):
            collapse = common.find_collapse(h.steps, h.loss, h.alive)
            lowest = int(np.argmin(h.alive))
            rms = [v for v in h.feature_rms if np.isfinite(v)]
            lines.append(
                f"| {lr:g} | {scale:g} | {seed} | {describe(collapse)} | "
                f"{h.val_top1[-1] if h.val_top1 else float('nan'):.1f}% | "
                f"{h.alive[lowest]:.4f} ({h.steps[lowest]}) | {max(rms) if rms else float('nan'):.3g} | "
                f"{np.mean(h.loss[-SMOOTH:]):.3f} |"
            )
    lines += ["", f"Chance is {common.CHANCE:.0f}% top-1 and a loss of ln 10 = 2.303.", ""]
    return "\n".join(lines)


def plot(runs, path) -> None:
    rates = sorted({lr for lr, _ in runs})
    scales = sorted({scale for _, scale in runs}, reverse=True)
    colours = dict(zip(scales, ["tab:red", "tab:green", "tab:blue", "tab:purple", "tab:brown"], strict=False))
    fig = Figure(figsize=(15, 3.6 * len(rates)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rates), 3, squeeze=False))
    for row, lr in zip(axes, rates, strict=True):
        loss_ax, alive_ax, acc_ax = row
        for scale in scales:
            for i, h in enumerate(runs[lr, scale]):
                colour, label = colours[scale], f"scale {scale:g}" if i == 0 else None
                loss_ax.plot(h.steps, common.smooth(h.loss, SMOOTH), color=colour, alpha=0.8, lw=1.2, label=label)
                alive_ax.plot(h.steps, np.maximum(h.alive, FLOOR), color=colour, alpha=0.8, lw=1.2, label=label)
                acc_ax.plot(h.eval_steps, h.val_top1, color=colour, alpha=0.8, lw=1.2, marker=".", label=label)
                collapse = common.find_collapse(h.steps, h.loss, h.alive)
                if collapse.step is not None:
                    at = h.steps.index(collapse.step)
                    alive_ax.plot([collapse.step], [max(h.alive[at], FLOOR)], "x", color=colour, ms=10, mew=2)
        alive_ax.axhline(common.DEAD_BELOW, color="grey", lw=0.8, ls="--")
        loss_ax.set(title=f"lr {lr:g}: training loss ({SMOOTH}-step average)", xlabel="step", yscale="log")
        alive_ax.set(
            title=f"lr {lr:g}: non-zero fraction of the last feature map (x: collapse)", xlabel="step",
            yscale="log", ylim=(FLOOR / 2, 1.5),
        )  # fmt: skip
        acc_ax.set(title=f"lr {lr:g}: validation top-1 (%)", xlabel="step", ylim=(0, 100))
        acc_ax.axhline(common.CHANCE, color="grey", lw=0.8, ls=":")
        for ax in row:
            ax.grid(alpha=0.3)
            ax.legend(title="one line per seed", fontsize="small")
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
