"""What keeping freed memory buys (the command line's allocator setting), in fresh processes.

Usage: python benchmarks/allocator.py [--models NAME ...] [--batch-size 8] [--pairs 5] [--calls 5] [--markdown]

glibc stops adapting its thresholds once a size is set, so its default cannot be restored within a
process: every measurement is a fresh process, one with ``keep_freed_memory()`` and one without,
in pairs whose order alternates. Each process times, after a warm-up call, ``--calls`` calls of
ours after ``optimize_for_inference`` and of the reference's channels_last eager (taking turns),
then of our channels_last training step (the trainer's fused SGD). Reported: median images/s with the setting
on and off, and the ratio on / off per pair, median (min-max).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import torch
from inference import REFERENCES, Table, alternate, machine, pair, spread
from train_step import step_fn

import inception_zoo

KINDS = ("ours optimised", "ref. CL", "ours CL training step")


def measure(name: str, batch_size: int, calls: int, keep: bool) -> dict[str, float]:
    """Images/s of each kind, in this process, with the setting made first or not at all."""
    if keep and not inception_zoo.optimize.keep_freed_memory():
        raise SystemExit("keeping freed memory needs glibc (Linux)")
    torch.manual_seed(0)
    _, reference, ours = pair(name)
    size = inception_zoo.model_info(name).input_size[-1]
    x = torch.randn(batch_size, 3, size, size)
    fast = inception_zoo.optimize_for_inference(ours)
    reference_cl = reference.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch_size,))
    training = {"ours CL training step": step_fn(ours, x, y, channels_last=True, bf16=False, ours=True)}
    with torch.inference_mode():
        inference = {"ours optimised": lambda: fast(x), "ref. CL": lambda: reference_cl(x_cl)}
        alternate(inference, 1)  # warm-up
        times = alternate(inference, calls)
    alternate(training, 1)
    times |= alternate(training, calls)
    return {kind: batch_size / statistics.median(ts) for kind, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(REFERENCES), choices=list(REFERENCES))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)  # one measurement
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.models[0], args.batch_size, args.calls, args.child == "on")))
        return
    print(f"torch {torch.__version__}, {machine('cpu')}, pairs {args.pairs}", file=sys.stderr)
    header = ["network", *(f"{kind} img/s on / off" for kind in KINDS), *(f"{kind} on / off" for kind in KINDS)]
    table = Table(header, args.markdown)
    for name in args.models:
        results: dict[str, list[dict]] = {"on": [], "off": []}
        for i in range(args.pairs):
            for setting in ("on", "off") if i % 2 == 0 else ("off", "on"):
                command = [sys.executable, __file__, "--models", name, "--batch-size", str(args.batch_size),
                           "--calls", str(args.calls), "--child", setting]  # fmt: skip
                out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                results[setting].append(json.loads(out.strip().splitlines()[-1]))
        cells = [name]
        for kind in KINDS:
            on, off = (statistics.median(r[kind] for r in results[s]) for s in ("on", "off"))
            cells.append(f"{on:.2f} / {off:.2f}")
        for kind in KINDS:
            cells.append(spread([a[kind] / b[kind] for a, b in zip(results["on"], results["off"], strict=True)]))
        table.row(cells)


if __name__ == "__main__":
    main()
