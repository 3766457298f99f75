"""Peak memory of one training step of every CIFAR profile (fp32, CPU), one fresh process each.

Usage: python benchmarks/cifar_memory.py [--batch-size 128] [--markdown]

Reports the process's peak resident memory during one forward + backward + SGD step at 32x32,
and how much of it the step itself added over the built model and the batch. On a GPU the
activation part is what the step adds to the CUDA allocator's peak, to within its caching.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys


def measure(name: str, batch_size: int) -> dict:
    import torch

    import inception_zoo

    torch.manual_seed(0)
    model = inception_zoo.create_model(name).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(batch_size, 3, 32, 32)
    labels = torch.randint(0, 10, (batch_size,))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    aux_weight = inception_zoo.model_info(name).aux_loss_weight or 0.0
    loss = inception_zoo.inception_loss(model.forward_train(images), labels, aux_weight=aux_weight)
    loss.backward()
    optimizer.step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"name": name, "batch_size": batch_size, "peak_mib": peak / 1024, "step_mib": (peak - before) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one model in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.batch_size)))
        return
    import inception_zoo

    rows = []
    for name in inception_zoo.list_models("*_cifar"):
        out = subprocess.run(
            [sys.executable, __file__, "--one", name, "--batch-size", str(args.batch_size)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        row = rows[-1]
        if not args.markdown:
            print(
                f"{name:28s} peak {row['peak_mib']:8.0f} MiB   added by the step {row['step_mib']:8.0f} MiB", flush=True
            )
    if args.markdown:
        print(f"| profile | peak RSS, batch {args.batch_size} (MiB) | added by the training step (MiB) |")
        print("|---|---|---|")
        for row in rows:
            print(f"| `{row['name']}` | {row['peak_mib']:.0f} | {row['step_mib']:.0f} |")


if __name__ == "__main__":
    main()
