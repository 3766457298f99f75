"""Inference speed, side by side with timm and torchvision, on this machine, in one process.

Usage: python benchmarks/inference.py [--models NAME ...] [--batch-sizes 1 8] [--rounds 7] [--compile]
       [--device cpu|cuda] [--dtype float32|bfloat16|float16] [--keep-freed-memory] [--markdown]

For each network both libraries have, the reference gets random weights and BatchNorm statistics,
ours is loaded from its state dict (the same weights), and outputs are checked to agree before
anything is timed. Then rounds alternate between the variants (reference NCHW, reference
channels_last, ours after ``optimize_for_inference``; with ``--compile`` also the reference
channels_last and ours through ``optimize_for_inference(compile=True)``, both with inductor
freezing), so that drift in the machine's speed hits all of them alike. Reported: median
images/s, and the ratio ours / reference per round as median (min-max); compiled against compiled.
A large 3x3 conv takes its turn in the same rounds, as the machine's practical ceiling: our
network's GFLOP/s (2 x its counted MACs x images/s) is shown as a share of the conv's.

On a GPU (``--device cuda``) each timed call waits for the GPU to finish. With ``--dtype bfloat16``
every variant computes in bf16 (ours folds in fp32 first) and is checked against the fp32
reference within bf16's rounding; the issue's GPU comparison is
``--device cuda --dtype bfloat16 --batch-sizes 256 --compile``.
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


def alternate(variants: dict, rounds: int, sync=lambda: None) -> dict[str, list[float]]:
    """Seconds per call of each variant, the variants taking turns in every round (``sync`` waits for
    a GPU to finish)."""
    times: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(rounds):
        for label, run in variants.items():
            sync()
            start = time.perf_counter()
            run()
            sync()
            times[label].append(time.perf_counter() - start)
    return times


def spread(ratios: list[float]) -> str:
    """Per-round ratios as the tables show them: median (min-max)."""
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


class Table:
    """Rows printed as they come, as a Markdown table or as plain columns."""

    def __init__(self, header: list[str], markdown: bool):
        self.markdown = markdown
        self.row(header)
        if markdown:
            print("|" + "---|" * len(header))

    def row(self, cells: list[str]) -> None:
        print("| " + " | ".join(cells) + " |" if self.markdown else "  ".join(cells), flush=True)


def large_conv(batch_size: int, device: torch.device, dtype: torch.dtype) -> tuple[float, object]:
    """(GFLOP per call, call): a 3x3 conv, 256 -> 256 channels on batch_size x 28 x 28, channels_last."""
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).eval().to(device, dtype, memory_format=torch.channels_last)
    x = torch.randn(batch_size, 256, 28, 28, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    return 2 * batch_size * 28 * 28 * 256 * 256 * 9 / 1e9, lambda: conv(x)


# How far each variant may be from the fp32 reference: fp32 is the same function up to rounding;
# bf16 and fp16 keep 8 and 11 significant bits through some hundred layers.
TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 0.1, torch.float16: 0.05}


def bench(
    name: str,
    batch_size: int,
    rounds: int,
    compiled: bool = False,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> dict:
    device = torch.device(device)
    source, reference, ours = pair(name)
    reference, ours = reference.to(device), ours.to(device)
    size = inception_zoo.model_info(name).input_size[-1]
    x32 = torch.randn(batch_size, 3, size, size, device=device)
    x = x32.to(dtype)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    reference_cl = copy.deepcopy(reference).to(dtype, memory_format=torch.channels_last)
    reference_nchw = copy.deepcopy(reference).to(dtype)
    reduced = None if dtype == torch.float32 else dtype
    fast = inception_zoo.optimize_for_inference(ours, dtype=reduced)
    variants = {
        f"{source}": lambda: reference_nchw(x),
        f"{source} channels_last": lambda: reference_cl(x_cl),
        "ours optimised": lambda: fast(x),
    }
    if compiled:  # inductor with freezing on both sides (and CUDA graphs on a GPU); ours through its own switch
        options = {"freezing": True, "triton.cudagraphs": device.type == "cuda"}
        reference_c = torch.compile(copy.deepcopy(reference_cl), options=options)
        fast_c = inception_zoo.optimize_for_inference(ours, compile=True, dtype=reduced)
        variants[f"{source} compiled"] = lambda: reference_c(x_cl)
        variants["ours compiled"] = lambda: fast_c(x)
    with torch.inference_mode():
        expected = reference(x32)
        for label, run in variants.items():
            error = max_relative_error(run().float(), expected)
            if error > TOLERANCE[dtype]:
                raise RuntimeError(f"{name}: {label} disagrees with the reference (max relative error {error:.1e})")
        conv_gflop, variants["large conv"] = large_conv(max(batch_size, 8), device, dtype)
        sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
        times = alternate(variants, rounds, sync)
    conv_gflops = conv_gflop / statistics.median(times.pop("large conv"))
    ours_t = times["ours optimised"]
    ours_gflops = 2 * inception_zoo.model_info(name).gmacs * batch_size / statistics.median(ours_t)
    row = {"model": name, "batch": batch_size, "reference": source, "gflops": (ours_gflops, conv_gflops)}
    for label, ts in times.items():
        row[label] = batch_size / statistics.median(ts)
        if label not in ("ours optimised", "ours compiled"):
            mine = times["ours compiled"] if label.endswith("compiled") else ours_t
            ratios = [t_ref / t_ours for t_ref, t_ours in zip(ts, mine, strict=True)]
            row[f"vs {label}"] = spread(ratios)
    return row


def machine(device: str) -> str:
    return torch.cuda.get_device_name(device) if device != "cpu" else f"CPU, {torch.get_num_threads()} threads"


def add_keep_freed_memory_option(parser: argparse.ArgumentParser) -> None:
    help = "the allocator setting the CLI makes, for the whole process (both sides gain)"
    parser.add_argument("--keep-freed-memory", action="store_true", help=help)


def apply_keep_freed_memory_option(args: argparse.Namespace) -> None:
    if args.keep_freed_memory and not inception_zoo.optimize.keep_freed_memory():
        raise SystemExit("--keep-freed-memory needs glibc (Linux)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(REFERENCES), choices=list(REFERENCES))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8, 1])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--compile", action="store_true", help="add both sides compiled (minutes per network)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (TF32 is turned off: fp32 means fp32)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    add_keep_freed_memory_option(parser)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    apply_keep_freed_memory_option(args)
    device, dtype = args.device, getattr(torch, args.dtype)
    print(f"torch {torch.__version__}, {machine(device)}, {args.dtype}, rounds {args.rounds}", file=sys.stderr)
    if device != "cpu":
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    rows = [bench(name, b, args.rounds, args.compile, device, dtype) for name in args.models for b in args.batch_sizes]
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
        cells = [
            f"{row['model']} ({ref})",
            str(row["batch"]),
            f"{row[ref]:.1f}",
            f"{row[ref + ' channels_last']:.1f}",
            f"{row['ours optimised']:.1f}",
            row[f"vs {ref}"],
            row[f"vs {ref} channels_last"],
            f"{row['gflops'][0]:.0f} ({row['gflops'][0] / row['gflops'][1]:.0%} of {row['gflops'][1]:.0f})",
        ]
        if args.compile:
            cells += [f"{row[ref + ' compiled']:.1f}", f"{row['ours compiled']:.1f}", row[f"vs {ref} compiled"]]
        table.row(cells)


if __name__ == "__main__":
    main()
