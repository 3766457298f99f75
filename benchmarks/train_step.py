"""Training-step speed, side by side with timm and torchvision, on this machine, in one process.

Usage: python benchmarks/train_step.py [--models NAME ...] [--batch-size 8] [--rounds 7] [--bf16]
       [--device cpu|cuda] [--keep-freed-memory] [--markdown]

One step = zero_grad, forward, cross-entropy, backward, SGD (momentum 0.9) update, on the
network's own input size, side classifiers off on both sides. Every variant starts from the same
weights (outputs checked to agree before timing) and has its own optimizer: the references torch's
default SGD (foreach), ours the fused SGD our trainer uses. Rounds alternate between the variants;
reported are median images/s and, per round, the ratio to the reference's default step (median,
min-max). The trainer's switches are what is measured: ``--channels-last`` and ``--amp bf16``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import sys

import torch
import torch.nn.functional as F
from inference import (  # the same pairs of models, same weights
    REFERENCES,
    Table,
    add_keep_freed_memory_option,
    alternate,
    apply_keep_freed_memory_option,
    machine,
    max_relative_error,
    pair,
    spread,
)

import inception_zoo


def step_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, channels_last: bool, bf16: bool, ours: bool):
    model = copy.deepcopy(model).train().to(x.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, fused=ours or None)

    def step() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        return logits

    return step


def bench(name: str, batch_size: int, rounds: int, bf16: bool, device: str = "cpu") -> dict:
    source, reference, ours = pair(name)
    if hasattr(reference, "aux_logits"):
        reference.aux_logits = False
        if hasattr(reference, "AuxLogits"):
            reference.AuxLogits = None
    size = inception_zoo.model_info(name).input_size[-1]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch_size, 3, size, size, generator=gen).to(device)
    y = torch.randint(0, 1000, (batch_size,), generator=gen).to(device)
    variants = {  # each with its own copy of the model, in train mode, and its own optimizer
        source: step_fn(reference, x, y, channels_last=False, bf16=False, ours=False),
        f"{source} CL": step_fn(reference, x, y, channels_last=True, bf16=False, ours=False),
        "ours": step_fn(ours, x, y, channels_last=False, bf16=False, ours=True),
        "ours CL": step_fn(ours, x, y, channels_last=True, bf16=False, ours=True),
    }
    if bf16:
        variants["ours CL bf16"] = step_fn(ours, x, y, channels_last=True, bf16=True, ours=True)
    with torch.no_grad():  # the same network and weights (dropout rates may differ: no cost to speak of)
        error = max_relative_error(ours.to(device).eval()(x), reference.to(device).eval()(x))
    if error > 1e-4:
        raise RuntimeError(f"{name}: ours disagrees with the reference (max relative error {error:.1e})")
    for run in variants.values():  # warm-up
        run()
    times = alternate(variants, rounds, torch.cuda.synchronize if x.is_cuda else lambda: None)
    row = {"model": name, "reference": source}
    for label, ts in times.items():
        row[label] = batch_size / statistics.median(ts)
        ratios = [t_ref / t for t_ref, t in zip(times[source], ts, strict=True)]
        row[f"{label} ratio"] = spread(ratios)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(REFERENCES), choices=list(REFERENCES))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--bf16", action="store_true", help="also ours with bf16 autocast (slow on CPUs without bf16)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (TF32 is turned off: fp32 means fp32)")
    add_keep_freed_memory_option(parser)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    apply_keep_freed_memory_option(args)
    if args.device != "cpu":
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    print(f"torch {torch.__version__}, {machine(args.device)}, rounds {args.rounds}", file=sys.stderr)
    labels = ["CL", "ours", "ours CL", *(["ours CL bf16"] if args.bf16 else [])]
    header = ["network", "ref. img/s", *(f"{label} / ref." for label in labels)]
    table = Table(header, args.markdown)
    for name in args.models:
        row = bench(name, args.batch_size, args.rounds, args.bf16, args.device)
        ref = row["reference"]
        cells = [f"{name} ({ref})", f"{row[ref]:.2f}"]
        for label in labels:
            key = f"{ref} CL" if label == "CL" else label
            cells.append(row[f"{key} ratio"])
        table.row(cells)


if __name__ == "__main__":
    main()
