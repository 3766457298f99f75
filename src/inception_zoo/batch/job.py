"""Running a task over many images: as a stream of rows, or as a resumable job that writes a file.

A job to ``out.csv`` keeps its work in ``out.csv.parts/``: ``job.json`` (what makes the results
what they are: the task and its options, the weights' fingerprint, the inputs and their count,
the part size and the output's kind) and one file per finished part of ``part_size`` images,
``part-<first>-<end>``, each written whole or not at all. Running the same job again skips the
parts that are there, so after a crash (even SIGKILL) the rerun writes every image exactly once.
Under torchrun each process takes the parts ``p`` with ``p mod world == rank``; when all are
written the first process merges them, in order, into the output, and removes the parts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from .. import distributed
from .._files import writable
from ..errors import ArgumentError
from ..models._base import InceptionNet
from ..optimize.inference import optimize_for_inference
from .inputs import check_inputs, count_items
from .loading import Batch, batches_of_images, load_batches
from .options import COMPUTE_DTYPES, PART_SIZE, default_workers
from .outputs import Output, output_for

__all__ = ["RunOptions", "Summary", "prepare_network", "run_to_file", "stream"]


@dataclass(frozen=True)
class RunOptions:
    """How the network runs: images per call, decode workers (0: decode in this process), the device
    (default: this process's GPU under torchrun, else a GPU if there is one, else the CPU), and
    ``optimize_for_inference`` (on by default; same outputs to 1e-4) with its precision and compile."""

    batch_size: int = 32
    workers: int | None = None
    device: str | None = None
    optimize: bool = True
    compute_dtype: str = "float32"
    compile: bool = False

    def __post_init__(self):
        if self.batch_size < 1:
            raise ArgumentError(f"batch_size must be >= 1, got {self.batch_size}", option="batch_size")
        if self.workers is not None and self.workers < 0:
            raise ArgumentError(f"workers must be >= 0, got {self.workers}", option="workers")
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise ArgumentError(f"compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}", option="compute_dtype")
        if not self.optimize and (self.compute_dtype != "float32" or self.compile):
            raise ArgumentError("compute_dtype and compile are options of the optimised model: drop optimize=False")


@dataclass(frozen=True)
class Summary:
    """What a job wrote: ``images`` rows (``errors`` of them unreadable images) to ``output``, of which
    ``resumed`` were written by an earlier run; ``seconds`` and ``images_per_second`` of this run."""

    output: Path
    images: int
    errors: int
    resumed: int
    seconds: float
    images_per_second: float


def prepare_network(network: nn.Module, device: torch.device, options: RunOptions) -> nn.Module:
    """``network`` (a task's own copy: it is moved in place) on ``device``, optimised unless told not to."""
    if not isinstance(network, InceptionNet):  # an ONNX file: ONNX Runtime runs it as it is, on the CPU
        if device.type != "cpu":
            raise ArgumentError(f"an ONNX model runs on the CPU, not {device}", option="device")
        return network
    network = network.eval().to(device)
    if not options.optimize:
        return network
    dtype = getattr(torch, options.compute_dtype)
    return optimize_for_inference(network, compile=options.compile, dtype=None if dtype == torch.float32 else dtype)


def _rows(task, network: nn.Module, batches: Iterable[Batch], device: torch.device) -> Iterator[list]:
    for batch in batches:
        # Inference mode around each call, not around the loop: a generator suspended inside it would
        # leave the caller's code between rows in inference mode too.
        with torch.inference_mode():
            computed = task.compute(network(batch.images.to(device, non_blocking=True))) if len(batch.images) else []
        yield task.rows(batch, computed)


def _is_paths(inputs) -> bool:
    return isinstance(inputs, str | os.PathLike)


def stream(task, inputs, options: RunOptions) -> Iterator:
    """Rows of ``task`` for ``inputs`` (paths: files, folders, .txt lists, .tar shards; or an iterable
    of in-memory images), in input order, as they are computed."""
    if distributed.world_size() > 1:
        raise ArgumentError("under torchrun, write to a file (an output): each process writes its share of it")
    device = distributed.local_device(options.device)
    network = prepare_network(task.network(), device, options)
    transform = task.transform()
    if _is_paths(inputs):
        inputs = [inputs]
    inputs = iter(inputs)
    first = next(inputs, None)
    if first is None:
        return
    rest = [first, *inputs] if _is_paths(first) else None
    if rest is not None:
        paths = check_inputs(rest)
        count = count_items(paths)
        if count == 0:
            raise ArgumentError(f"no images found in {', '.join(map(str, paths))}")
        workers = default_workers() if options.workers is None else options.workers
        batches = load_batches(
            paths, transform, [(0, count)], batch_size=options.batch_size, workers=workers,
            pin=device.type == "cuda",
        )  # fmt: skip
    else:
        batches = batches_of_images(_chain(first, inputs), transform, options.batch_size)
    for rows in _rows(task, network, batches, device):
        yield from rows


def _chain(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def fingerprint(model: nn.Module) -> str:
    """A hash of the weights (of an ONNX model: of its file), so that a resumed job checks it has the same."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    if path := getattr(model, "path", None):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def _part_name(start: int, end: int, output: Output) -> str:
    return f"part-{start:012d}-{end:012d}{output.part_suffix}"


def _write_atomically(folder: Path, name: str, write) -> None:
    """``write(path)`` to a hidden file, renamed to ``name`` when whole."""
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    write(path=tmp)
    os.replace(tmp, folder / name)


def _start(output_path: Path, output: Output, parts: Path, identity: dict, overwrite: bool) -> None:
    """On the first process: refuse to replace a finished output unless asked; start or check ``parts``."""
    finished = [f for f in output.files(output_path) if f.exists()]
    if overwrite:
        shutil.rmtree(parts, ignore_errors=True)
        for file in finished:
            file.unlink()
    elif finished and not parts.exists():
        raise ArgumentError(
            f"{output_path} is already written: pass overwrite=True to write it again",
            cli=f"{output_path} is already written: give --overwrite to write it again, or another --output",
        )
    parts.mkdir(exist_ok=True)
    job = parts / "job.json"
    if job.exists():
        earlier = json.loads(job.read_text())
        if earlier != identity:
            differs = sorted(k for k in identity.keys() | earlier.keys() if earlier.get(k) != identity.get(k))
            said = f"{parts} holds the parts of another job (it differs in {', '.join(differs)})"
            raise ArgumentError(
                f"{said}: pass overwrite=True to start again",
                cli=f"{said}: give --overwrite to start again, or another --output",
            )
    else:
        _write_atomically(parts, "job.json", lambda path: path.write_text(json.dumps(identity, indent=1)))
    for stale in parts.glob(".*.tmp"):  # a part a killed run was writing
        stale.unlink()


def run_to_file(
    task,
    inputs,
    output_path: str | os.PathLike,
    options: RunOptions,
    *,
    overwrite: bool = False,
    part_size: int = PART_SIZE,
    progress: bool = True,
) -> Summary:
    """Run ``task`` over the images of ``inputs`` into ``output_path``, resuming what an earlier run of the
    same job left; under torchrun, shared among the processes. Returns the first process's summary
    (the others' have ``errors`` -1: only the first reads the whole output)."""
    began = time.perf_counter()
    output_path = writable(output_path)
    output = output_for(task, output_path)
    paths = check_inputs([inputs] if _is_paths(inputs) else inputs)
    if part_size < 1:
        raise ArgumentError(f"part_size must be >= 1, got {part_size}")
    count = count_items(paths)
    if count == 0:
        raise ArgumentError(f"no images found in {', '.join(map(str, paths))}")
    joined_here = not (dist.is_available() and dist.is_initialized())  # a caller's own group stays theirs
    processes = distributed.join(options.device)
    try:
        parts = output_path.with_name(output_path.name + ".parts")
        identity = {
            "task": task.kind,
            **task.options,
            "model": getattr(task.model, "name", type(task.model).__name__),
            "weights": fingerprint(task.model),
            "inputs": [str(p.resolve()) for p in paths],
            "count": count,
            "part_size": part_size,
            "output": type(output).__name__,
        }
        if processes.main:
            _start(output_path, output, parts, identity, overwrite)
        processes.barrier()
        every = [(start, min(start + part_size, count)) for start in range(0, count, part_size)]
        done = {p.name for p in parts.glob("part-*")}
        mine = [r for k, r in enumerate(every) if k % processes.world == processes.rank]
        todo = [r for r in mine if _part_name(*r, output) not in done]
        resumed = count - sum(end - start for start, end in every if _part_name(start, end, output) not in done)
        _run_parts(task, paths, todo, output, parts, options, processes, progress)
        processes.barrier()
        errors = -1
        if processes.main:
            errors = _merge(output, [parts / _part_name(*r, output) for r in every], output_path, parts)
        processes.barrier()
    finally:
        if joined_here:
            distributed.leave(processes)
    seconds = time.perf_counter() - began
    return Summary(output_path, count, errors, resumed, seconds, (count - resumed) / seconds)


def _run_parts(task, paths, todo, output: Output, parts: Path, options: RunOptions, processes, progress: bool) -> None:
    if not todo:
        return
    device = processes.device
    network = prepare_network(task.network(), device, options)
    workers = default_workers() if options.workers is None else options.workers
    batches = load_batches(
        paths, task.transform(), todo, batch_size=options.batch_size, workers=workers,
        pin=device.type == "cuda",
    )  # fmt: skip
    ranges = iter(todo)
    start, end = next(ranges)
    rows: list = []
    with tqdm(total=sum(e - s for s, e in todo), unit="img", disable=not progress or None, smoothing=0.1) as bar:
        for batch_rows in _rows(task, network, batches, device):
            rows += batch_rows
            bar.update(len(batch_rows))
            if len(rows) == end - start:
                _write_atomically(parts, _part_name(start, end, output), partial(output.write_part, rows))
                rows = []
                start, end = next(ranges, (None, None))
    if start is not None:
        raise ArgumentError(
            f"the inputs changed while the job ran (part {start}-{end} got {len(rows)} of {end - start} images): "
            "run it again on inputs that stay as they are"
        )


def _merge(output: Output, part_files: list[Path], output_path: Path, parts: Path) -> int:
    missing = [p.name for p in part_files if not p.exists()]
    if missing:
        raise ArgumentError(f"{len(missing)} parts of {parts} are missing ({missing[0]} ...): run the job again")
    merged = parts / f"merged{output_path.suffix}"
    errors = output.merge(part_files, merged)
    for made, final in reversed(list(zip(output.files(merged), output.files(output_path), strict=True))):
        os.replace(made, final)  # the main file last: once it is there, the output is whole
    shutil.rmtree(parts)
    return errors
