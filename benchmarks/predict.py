"""Batch prediction end to end: a folder of JPEGs to a CSV of top-5 classes, side by side with timm's
inference.py on the same folder with the same weights, against the model alone; and peak memory as
the number of images grows.

Usage: python benchmarks/predict.py [--images 2000] [--model inception_v3] [--batch-size 32]
       [--workers N] [--rounds 2] [--memory 1000 10000] [--timm-inference PATH] [--markdown]

The images are generated once (``--cache``): 500x375 JPEGs of smooth random content (a photo's
file size, not noise's). The weights are a timm model's random weights with randomised BatchNorm
statistics, saved in timm's layout: timm's script loads them with ``--checkpoint``, ours with
``--model NAME --weights FILE``. Each round runs, in turn: ``inception-zoo predict DIR --output
FILE.csv`` (decode workers, ``optimize_for_inference``), timm's ``inference.py DIR --checkpoint
FILE --results-format csv`` with the same batch size and workers, and the model alone in this
process (our optimised network on preprocessed tensors: the ceiling for end to end). Both scripts
are timed from start to exit (start-up included, for both). Reported: images/s as median (min-max)
over the rounds, and the per-round ratios.

timm's inference.py is not in timm's wheel: ``--timm-inference`` names a copy (from timm's GitHub
repository at the installed version's tag); without it, it is downloaded from there once.

Memory: ``inception-zoo predict`` over the first 1,000 and then all 10,000 of a generated folder
(a small network, ``--memory-model``, so that the run is short), its peak memory: the proportional
set size (PSS) summed over the process and its decode workers, sampled every 20 ms from /proc
(Linux). PSS, not RSS: a forked worker's RSS counts the pages it shares with its parent again, and
grows as it touches them, without any more memory in use. ``--rounds 0`` measures memory only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import inception_zoo  # noqa: E402
from conftest import randomize_batchnorm  # noqa: E402

TIMM_SCRIPT = "https://raw.githubusercontent.com/huggingface/pytorch-image-models/v{version}/inference.py"


def make_images(folder: Path, count: int, seed: int = 0, size=(500, 375), suffix: str = ".jpg", base=(12, 16)) -> Path:
    """``count`` images of ``size``: random ``base`` pixels upsampled, a photo's file size rather than noise's
    (kept between runs: the folder is reused when complete). The FID benchmark makes its sets with it too."""
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob(f"*{suffix}"))) >= count:
        return folder
    rng = np.random.default_rng(seed)
    for i in range(count):
        small = Image.fromarray(rng.integers(0, 256, (*base, 3), dtype=np.uint8))
        small.resize(size, Image.BICUBIC).save(
            folder / f"{i:06d}{suffix}", **({"quality": 90} if suffix == ".jpg" else {})
        )
    return folder


def timm_script(given: str | None, cache: Path) -> Path:
    if given:
        return Path(given)
    import timm

    path = cache / f"timm-inference-{timm.__version__}.py"
    if not path.exists():
        urllib.request.urlretrieve(TIMM_SCRIPT.format(version=timm.__version__), path)
    return path


def timm_weights(name: str, cache: Path) -> Path:
    import timm

    path = cache / f"{name}-random.pth"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        torch.save(randomize_batchnorm(timm.create_model(name)).state_dict(), path)
    return path


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return seconds


def model_only(name: str, weights: Path, batch_size: int, images: int) -> float:
    """Images/s of our optimised network alone on preprocessed batches (after one warm-up call)."""
    fast = inception_zoo.optimize_for_inference(inception_zoo.create_model(name, weights=weights))
    size = fast.preprocessing.input_size[-1]
    x = torch.randn(batch_size, 3, size, size)
    calls = max(1, images // batch_size)
    with torch.inference_mode():
        fast(x)
        start = time.perf_counter()
        for _ in range(calls):
            fast(x)
    return calls * batch_size / (time.perf_counter() - start)


def tree_pss(pid: int) -> int:
    """Proportional set size of ``pid`` and its descendants, from /proc: resident memory with each page
    shared among them (the workers are forked) counted once, not once per process."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                parent = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        with contextlib.suppress(OSError, StopIteration):  # a process that ended meanwhile
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
            total += int(next(line for line in rollup if line.startswith("Pss:")).split()[1]) * 1024
    return total


def peak_memory(command: list[str]) -> tuple[int, float]:
    """(peak proportional set size of the process tree, in bytes; seconds) of ``command``."""
    start = time.perf_counter()
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_pss(job.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, stderr = job.communicate()
    stop.set()
    sampler.join()
    if job.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    return peak, time.perf_counter() - start


def spread(values: list[float], unit: str = "") -> str:
    return f"{statistics.median(values):.1f}{unit} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--model", default="inception_v3", help="a network both timm and we have")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None, help="decode workers for both (default: ours')")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--memory", type=int, nargs="*", default=[1000, 10000], help="image counts (none: skip)")
    parser.add_argument("--memory-model", default="googlenet_cifar")
    parser.add_argument("--timm-inference", help="timm's inference.py (default: downloaded for the installed timm)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "inception-zoo-bench-predict"))
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    from inception_zoo.batch.options import default_workers

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    workers = default_workers() if args.workers is None else args.workers
    folder = make_images(cache / "images", max(args.images, *(args.memory or [0])))
    listing = cache / f"first-{args.images}.txt"
    listing.write_text("".join(f"images/{i:06d}.jpg\n" for i in range(args.images)))
    timm_folder = cache / f"timm-{args.images}"  # timm's reader takes a folder: links to the same files
    if not timm_folder.exists():
        timm_folder.mkdir()
        for i in range(args.images):
            (timm_folder / f"{i:06d}.jpg").symlink_to(folder / f"{i:06d}.jpg")
    weights = timm_weights(args.model, cache)
    script = timm_script(args.timm_inference, cache)
    out = cache / "out"
    out.mkdir(exist_ok=True)
    ours_cmd = [sys.executable, "-m", "inception_zoo", "predict", str(listing), "--model", args.model,
                "--weights", str(weights), "--output", str(out / "ours.csv"), "--overwrite",
                "--batch-size", str(args.batch_size), "--workers", str(workers)]  # fmt: skip
    timm_cmd = [sys.executable, str(script), str(timm_folder), "--model", args.model, "--checkpoint", str(weights),
                "--batch-size", str(args.batch_size), "--workers", str(workers), "--device", "cpu", "--topk", "5",
                "--results-dir", str(out), "--results-format", "csv", "--no-console-results"]  # fmt: skip

    if args.rounds:
        speed(args, ours_cmd, timm_cmd, weights, workers)
    if args.memory:
        memory(args, cache, out, workers)


def speed(args, ours_cmd: list[str], timm_cmd: list[str], weights: Path, workers: int) -> None:
    import timm

    rates: dict[str, list[float]] = {"ours": [], "timm": [], "model": []}
    for _ in range(args.rounds):
        rates["ours"].append(args.images / timed(ours_cmd))
        rates["timm"].append(args.images / timed(timm_cmd))
        rates["model"].append(model_only(args.model, weights, args.batch_size, min(args.images, 256)))
    vs_timm = [o / t for o, t in zip(rates["ours"], rates["timm"], strict=True)]
    vs_model = [o / m for o, m in zip(rates["ours"], rates["model"], strict=True)]

    when = datetime.date.today().isoformat()
    print(f"{when}; torch {torch.__version__}, timm {timm.__version__}; {os.cpu_count()} CPU cores; "
          f"{args.model}, {args.images} JPEGs 500x375, batch {args.batch_size}, {workers} decode workers, "
          f"{args.rounds} rounds")  # fmt: skip
    rows = [
        ["inception-zoo predict (end to end)", spread(rates["ours"]), ""],
        ["timm inference.py (end to end)", spread(rates["timm"]), ""],
        ["our optimised model alone", spread(rates["model"]), ""],
        ["ours / timm", "", f"{statistics.median(vs_timm):.2f}x ({min(vs_timm):.2f}-{max(vs_timm):.2f})"],
        ["ours / model alone", "", f"{statistics.median(vs_model):.0%} ({min(vs_model):.0%}-{max(vs_model):.0%})"],
    ]
    print_table(["", "images/s, median (min-max)", "ratio"], rows, args.markdown)


def memory(args, cache: Path, out: Path, workers: int) -> None:
    small = inception_zoo.save_weights(inception_zoo.create_model(args.memory_model), cache / "small.safetensors")
    memory_rows = []
    for count in args.memory:
        listed = cache / f"first-{count}.txt"
        listed.write_text("".join(f"images/{i:06d}.jpg\n" for i in range(count)))
        peak, seconds = peak_memory([sys.executable, "-m", "inception_zoo", "predict", str(listed), "--weights",
                                  str(small), "--output", str(out / "memory.csv"), "--overwrite",
                                  "--batch-size", str(args.batch_size), "--workers", str(workers)])  # fmt: skip
        memory_rows.append([f"{count:,}", f"{peak / 2**20:.0f} MiB", f"{count / seconds:.0f}"])
    print()
    print(f"peak memory of inception-zoo predict ({args.memory_model}, PSS of the process and its workers)")
    print_table(["images", "peak PSS", "images/s"], memory_rows, args.markdown)


def print_table(header: list[str], rows: list[list[str]], markdown: bool) -> None:
    """Rows as a Markdown table, or as plain columns (the FID benchmark's too)."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for row in [header, *rows]:
            print("  ".join(f"{c:<36}" for c in row).rstrip())


if __name__ == "__main__":
    main()
