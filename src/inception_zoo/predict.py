"""Top-k predictions for image files, with the model's own preprocessing and class names."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .data.images import UnreadableImage, read_rgb
from .data.transforms import transforms_for
from .errors import ArgumentError

__all__ = ["IMAGE_SUFFIXES", "Prediction", "expand_images", "predict", "read_image"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass
class Prediction:
    """The top classes of one image (``error`` set, and ``top`` empty, when it could not be read)."""

    path: str
    top: list[dict] = field(default_factory=list)  # {"index", "label", "score"}, best first
    error: str | None = None


def expand_images(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, and the image files inside folders (recursively, sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        else:
            found.append(path)
    return found


def read_image(path: str | os.PathLike, transform) -> torch.Tensor:
    """One image file through ``transform``; ``UnreadableImage`` saying why when it cannot be read."""
    try:
        return transform(read_rgb(path))
    except UnreadableImage as e:
        raise UnreadableImage(f"cannot read this image: {e}", e.kind) from None


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@torch.inference_mode()
def predict(
    model: nn.Module, paths: Iterable[str | os.PathLike], *, topk: int = 5, batch_size: int = 8
) -> list[Prediction]:
    """Classify image files (folders are searched) in batches; unreadable files are reported, not fatal.

    Example:
        >>> model = create_model("inception_v3", weights=True)
        >>> for p in predict(model, ["cat.jpg"]):
        ...     print(p.path, p.top[0]["label"], p.top[0]["score"])
    """
    if topk < 1 or batch_size < 1:
        raise ArgumentError(f"topk and batch_size must be >= 1, got {topk} and {batch_size}")
    model.eval()
    transform = transforms_for(model)
    labels = getattr(model, "labels", None)
    results = [Prediction(str(path)) for path in expand_images(paths)]
    readable: list[tuple[Prediction, torch.Tensor]] = []
    for result in results:
        try:
            readable.append((result, read_image(result.path, transform)))
        except UnreadableImage as e:
            result.error = str(e)
    for batch in _batches(readable, batch_size):
        probabilities = model(torch.stack([tensor for _, tensor in batch])).softmax(dim=1)
        scores, indices = probabilities.topk(min(topk, probabilities.shape[1]), dim=1)
        for (result, _), row_scores, row_indices in zip(batch, scores.tolist(), indices.tolist(), strict=True):
            result.top = [
                {"index": i, "label": labels[i] if labels else str(i), "score": s}
                for i, s in zip(row_indices, row_scores, strict=True)
            ]
    return results
