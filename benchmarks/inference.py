"""Inference speed, side by side with timm and torchvision, on this machine, in one process.

Usage: python benchmarks/inference.py [--models NAME ...] [--batch-sizes 1 8] [--rounds 7] [--compile] [--markdown]

For each network both libraries have, the reference gets random weights and BatchNorm statistics,
ours is loaded from its state dict (the same weights), and outputs are checked to agree before
anything is timed. Then rounds alternate between the variants (reference NCHW, reference
channels_last, ours after ``optimize_for_inference``; with ``--compile`` also the reference
channels_last and ours through ``optimize_for_inference(compile=True)``, both with inductor
freezing), so that drift in the machine's speed hits all of them alike. Reported: median
images/s, and the ratio ours / reference per round as median (min-max); compiled against compiled.
A large 3x3 conv takes its turn in the same rounds, as the machine's practical ceiling: our
network's GFLOP/s (2 x its counted MACs x images/s) is shown as a share of the conv's.
"""

from __future__ import annotations

import argparse
import copy
import io
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import inception_zoo  # noqa: E402
from conftest import max_relative_error, randomize_batchnorm  # noqa: E402

REFERENCES = {
    "googlenet": ("torchvision", lambda tv, timm: tv.models.googlenet(init_weights=True, aux_logits=False)),
    "inception_v3": ("timm", lambda tv, timm: timm.create_model("inception_v3")),
    "inception_v4": ("timm", lambda tv, timm: timm.create_model("inception_v4")),
    "inception_resnet_v2": ("timm", lambda tv, timm: timm.create_model("inception_resnet_v2")),
    "xception": ("timm", lambda tv, timm: timm.create_model("legacy_xception")),
    "inception_next_tiny": ("timm", lambda tv, timm: timm.create_model("inception_next_tiny")),
}


def pair(name: str) -> tuple[str, torch.nn.Module, torch.nn.Module]:
    import timm
    import torchvision

    source, make = REFERENCES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = randomize_batchnorm(make(torchvision, timm))
        buffer = io.BytesIO()
        torch.save(reference.state_dict(), buffer)
        path = Path("/tmp") / f"inception-zoo-bench-{name}.pth"
        path.write_bytes(buffer.getvalue())
        ours = inception_zoo.create_model(name, weights=path).eval()
        path.unlink()
    return source, reference, ours


def alternate(variants: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each variant, the variants taking turns in every round."""
    times: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(rounds):
        for label, run in variants.items():
            start = time.perf_counter()
            run()
            times[label].append(time.perf_counter() - start)
    return times


class Table:
    """Rows printed as they come, as a Markdown table or as plain columns."""

    def __init__(self, header: list[str], markdown: bool):
        self.markdown = markdown
        self.row(header)
        if markdown:
            print("|" + "---|" * len(header))

    def row(self, cells: list[str]) -> None:
        print("| " + " | ".join(cells) + " |" if self.markdown else "  ".join(cells), flush=True)


def large_conv() -> tuple[float, object]:
    """(GFLOP per call, call): a 3x3 conv, 256 -> 256 channels on 8 x 28 x 28, channels_last."""
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.randn(8, 256, 28, 28).contiguous(memory_format=torch.channels_last)
    return 2 * 8 * 28 * 28 * 256 * 256 * 9 / 1e9, lambda: conv(x)


def bench(name: str, batch_size: int, rounds: int, compiled: bool = False) -> dict:
    source, reference, ours = pair(name)
    size = inception_zoo.model_info(name).input_size[-1]
    x = torch.randn(batch_size, 3, size, size)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    reference_cl = copy.deepcopy(reference).to(memory_format=torch.channels_last)
    fast = inception_zoo.optimize_for_inference(ours)
    variants = {
        f"{source}": lambda: reference(x),
        f"{source} channels_last": lambda: reference_cl(x_cl),
        "ours optimised": lambda: fast(x),
    }
    if compiled:  # inductor with freezing on both sides; ours through the library's own switch
        reference_c = torch.compile(copy.deepcopy(reference_cl), options={"freezing": True})
        fast_c = inception_zoo.optimize_for_inference(ours, compile=True)
        variants[f"{source} compiled"] = lambda: reference_c(x_cl)
        variants["ours compiled"] = lambda: fast_c(x)
    with torch.inference_mode():
        expected = reference(x)
        for label, run in variants.items():
            error = max_relative_error(run(), expected)
            if error > 1e-4:
                raise RuntimeError(f"{name}: {label} disagrees with the reference (max relative error {error:.1e})")
        conv_gflop, variants["large conv"] = large_conv()
        times = alternate(variants, rounds)
    conv_gflops = conv_gflop / statistics.median(times.pop("large conv"))
    ours_t = times["ours optimised"]
    ours_gflops = 2 * inception_zoo.model_info(name).gmacs * batch_size / statistics.median(ours_t)
    row = {"model": name, "batch": batch_size, "reference": source, "gflops": (ours_gflops, conv_gflops)}
    for label, ts in times.items():
        row[label] = batch_size / statistics.median(ts)
        if label not in ("ours optimised", "ours compiled"):
            mine = times["ours compiled"] if label.endswith("compiled") else ours_t
            ratios = [t_ref / t_ours for t_ref, t_ours in zip(ts, mine, strict=True)]
            row[f"vs {label}"] = (statistics.median(ratios), min(ratios), max(ratios))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(REFERENCES), choices=list(REFERENCES))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8, 1])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--compile", action="store_true", help="add both sides compiled (minutes per network)")
    parser.add_argument(
        "--keep-freed-memory", action="store_true", help="the allocator setting the CLI makes (both sides gain)"
    )
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.keep_freed_memory and not inception_zoo.optimize.keep_freed_memory():
        raise SystemExit("--keep-freed-memory needs glibc (Linux)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, rounds {args.rounds}", file=sys.stderr)
    rows = [bench(name, b, args.rounds, args.compile) for name in args.models for b in args.batch_sizes]
    header = [
        "network",
        "batch",
        "ref. img/s",
        "ref. channels_last img/s",
        "ours img/s",
        "ours / ref.",
        "ours / ref. CL",
        "ours GFLOP/s (share of a large conv's)",
        *(["ref. compiled img/s", "ours compiled img/s", "ours / ref. (both compiled)"] if args.compile else []),
    ]
    table = Table(header, args.markdown)
    for row in rows:
        ref = row["reference"]
        vs, vs_cl = row[f"vs {ref}"], row[f"vs {ref} channels_last"]
        cells = [
            f"{row['model']} ({ref})",
            str(row["batch"]),
            f"{row[ref]:.1f}",
            f"{row[ref + ' channels_last']:.1f}",
            f"{row['ours optimised']:.1f}",
            f"{vs[0]:.2f}x ({vs[1]:.2f}-{vs[2]:.2f})",
            f"{vs_cl[0]:.2f}x ({vs_cl[1]:.2f}-{vs_cl[2]:.2f})",
            f"{row['gflops'][0]:.0f} ({row['gflops'][0] / row['gflops'][1]:.0%} of {row['gflops'][1]:.0f})",
        ]
        if args.compile:
            vs_c = row[f"vs {ref} compiled"]
            cells += [f"{row[ref + ' compiled']:.1f}", f"{row['ours compiled']:.1f}",
                      f"{vs_c[0]:.2f}x ({vs_c[1]:.2f}-{vs_c[2]:.2f})"]  # fmt: skip
        table.row(cells)


if __name__ == "__main__":
    main()
