"""The optimizer update alone, on a whole network's parameters, in one process.

Usage: python benchmarks/optimizer_step.py [--model inception_v4] [--rounds 7] [--markdown]

The update the trainer runs for each recipe's optimizer against the usual alternative: torch's
fused SGD and AdamW (what ``train`` builds) against their multi-tensor ("foreach") default, and
our TensorFlow RMSProp against timm's ``RMSpropTF``. Every optimizer gets its own copy of the
parameters and the same gradients; rounds alternate. Reported: median ms per update and the ratio
of the alternative's time to the trainer's choice, per round, median (min-max).
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from inference import Table, alternate, spread
from timm.optim import RMSpropTF

import inception_zoo
from inception_zoo.train import TFRMSprop

PAIRS = {  # label: (the trainer's choice, the alternative)
    "SGD (momentum 0.9), fused vs foreach": (
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, fused=True),
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, foreach=True),
    ),
    "AdamW, fused vs foreach": (
        lambda ps: torch.optim.AdamW(ps, lr=1e-3, fused=True),
        lambda ps: torch.optim.AdamW(ps, lr=1e-3),
    ),
    "RMSProp (TensorFlow's), ours vs timm's `RMSpropTF`": (
        lambda ps: TFRMSprop(ps, lr=0.045, decay=0.9, momentum=0.9, eps=1.0),
        lambda ps: RMSpropTF(ps, lr=0.045, alpha=0.9, momentum=0.9, eps=1.0),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="inception_v4", choices=inception_zoo.list_models())
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    weights = list(inception_zoo.create_model(args.model).parameters())
    grads = [torch.randn_like(w) * 1e-3 for w in weights]
    count = sum(w.numel() for w in weights)
    print(f"torch {torch.__version__}, {args.model}: {len(weights)} tensors, {count / 1e6:.1f}M", file=sys.stderr)

    def update(make):
        params = [torch.nn.Parameter(w.detach().clone()) for w in weights]
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        optimizer = make(params)
        optimizer.step()  # creates the state
        return optimizer.step

    header = ["optimizer", "trainer's choice (ms)", "alternative (ms)", "alternative / choice"]
    table = Table(header, args.markdown)
    for label, (choice, alternative) in PAIRS.items():
        times = alternate({"choice": update(choice), "alternative": update(alternative)}, args.rounds)
        ratios = [a / c for a, c in zip(times["alternative"], times["choice"], strict=True)]
        cells = [
            label,
            f"{statistics.median(times['choice']) * 1e3:.0f}",
            f"{statistics.median(times['alternative']) * 1e3:.0f}",
            spread(ratios),
        ]
        table.row(cells)


if __name__ == "__main__":
    main()
