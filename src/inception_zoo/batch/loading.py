"""Decoding and preprocessing in DataLoader workers, in whole batches, in input order.

``ImageBatches`` is an ``IterableDataset`` that yields whole batches: batch ``k`` of the plan is
made by worker ``k mod W``, and the DataLoader takes from its workers in turn, so batches arrive in
the plan's order while every worker decodes. Each worker walks the inputs itself (``inputs`` numbers
them the same way every time) and reads only its own images: nothing the size of the job is held
anywhere. An image that cannot be read or preprocessed is an error in its batch, never a stop.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..data.images import UnreadableImage, read_rgb
from .inputs import Item, walk_items

__all__ = ["Batch", "ImageBatches", "batches_of_images", "load_batches", "plan_batches", "preprocess"]


@dataclass(frozen=True)
class Batch:
    """Consecutive items; ``images`` stacks the readable ones, ``errors[i]`` says why item ``i`` is not one."""

    items: list[Item]
    images: torch.Tensor
    errors: list[str | None]

    def pin_memory(self) -> Batch:  # the DataLoader's pin_memory=True calls this
        return replace(self, images=self.images.pin_memory())


def plan_batches(ranges: Iterable[tuple[int, int]], batch_size: int) -> Iterator[tuple[int, int]]:
    """The batches of each ``[start, end)`` range, in order; no batch spans two ranges."""
    for start, end in ranges:
        for first in range(start, end, batch_size):
            yield first, min(first + batch_size, end)


def preprocess(source, transform) -> torch.Tensor:
    """One image (a path, encoded bytes, a PIL image, an HW/HWC uint8 array or a CHW tensor) through
    ``transform``; an ``UnreadableImage`` that says why when it cannot be used."""
    try:
        if isinstance(source, str | Path | bytes):
            source = read_rgb(source)
        elif isinstance(source, np.ndarray):  # HW or HWC uint8 (grey, RGB, RGBA): as a PIL image, as if read
            source = Image.fromarray(np.ascontiguousarray(source)).convert("RGB")
        elif isinstance(source, Image.Image):
            source = source.convert("RGB")
        return transform(source)
    except UnreadableImage as e:
        raise UnreadableImage(f"cannot read this image: {e}", e.kind) from None
    except Exception as e:  # a decoder's or transform's own failure on one odd image
        raise UnreadableImage(f"cannot preprocess this image: {type(e).__name__}: {e}", "corrupt") from None


def _batch(items: list[Item], tensors: list[torch.Tensor | str], empty: torch.Tensor) -> Batch:
    images = [t for t in tensors if isinstance(t, torch.Tensor)]
    errors = [t if isinstance(t, str) else None for t in tensors]
    return Batch(items, torch.stack(images) if images else empty, errors)


class ImageBatches(IterableDataset):
    """The batches of ``ranges`` (item numbers) of the inputs ``paths``, decoded and preprocessed."""

    def __init__(self, paths: Sequence[Path], transform, ranges: Sequence[tuple[int, int]], batch_size: int):
        self.paths, self.transform, self.ranges, self.batch_size = list(paths), transform, list(ranges), batch_size

    def __iter__(self) -> Iterator[Batch]:
        worker = get_worker_info()
        me, workers = (worker.id, worker.num_workers) if worker else (0, 1)
        mine = itertools.islice(plan_batches(self.ranges, self.batch_size), me, None, workers)
        current = next(mine, None)
        items: list[Item] = []
        tensors: list[torch.Tensor | str] = []
        empty = torch.empty(0)
        for item, load in walk_items(self.paths):
            if current is None:
                return
            if item.index < current[0]:
                continue
            items.append(item)
            try:
                tensors.append(preprocess(load(), self.transform))
            except UnreadableImage as e:
                tensors.append(str(e))
            if item.index == current[1] - 1:
                yield _batch(items, tensors, empty)
                items, tensors, current = [], [], next(mine, None)


def load_batches(
    paths: Sequence[Path], transform, ranges: Sequence[tuple[int, int]], *, batch_size: int, workers: int, pin: bool
) -> DataLoader:
    """A DataLoader over ``ImageBatches``: ``workers`` processes decode ahead of the model (0: in this one)."""
    return DataLoader(
        ImageBatches(paths, transform, ranges, batch_size),
        batch_size=None,  # the dataset yields whole batches
        num_workers=workers,
        pin_memory=pin,
        prefetch_factor=4 if workers else None,
    )


def _each_image(images: Iterable) -> Iterator:
    """The images of ``images``, where an element may also be a whole batch (an NCHW tensor, NHWC array)."""
    for image in images:
        if getattr(image, "ndim", 0) == 4:
            yield from image
        else:
            yield image


def batches_of_images(images: Iterable, transform, batch_size: int) -> Iterator[Batch]:
    """Batches of in-memory images (PIL images, HWC uint8 arrays, CHW tensors, or batches of them: NCHW
    tensors, NHWC arrays), preprocessed here."""
    numbered = enumerate(_each_image(images))
    while chunk := list(itertools.islice(numbered, batch_size)):
        tensors: list[torch.Tensor | str] = []
        for _, image in chunk:
            try:
                tensors.append(preprocess(image, transform))
            except UnreadableImage as e:
                tensors.append(str(e))
        yield _batch([Item(i, None) for i, _ in chunk], tensors, torch.empty(0))
