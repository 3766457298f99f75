"""Batch inference on Ray Data: classes that ``ray.data.Dataset.map_batches`` takes as they are.

Ray builds one instance per actor (the model is loaded once, on the actor's GPU if it has one)
and calls it with batches in numpy form: an ``image`` column of uint8 arrays (what
``ray.data.read_images`` gives) or a ``bytes`` column of encoded images (``read_binary_files``).
The other columns pass through; an image that cannot be used gets its ``error`` and empty values.
Nothing here imports Ray: the ``ray`` extra installs it for the caller.

Example:
    >>> ds = ray.data.read_binary_files("s3://bucket/images/", include_paths=True)
    >>> top = ds.map_batches(Predictor, fn_constructor_kwargs={"model": "inception_v3"}, concurrency=4, batch_size=64)
    >>> top.write_parquet("s3://bucket/predictions/")
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ArgumentError
from ..pretrained import open_model
from .inputs import Item
from .job import RunOptions, prepare_network
from .loading import Batch, preprocess
from .tasks import EmbeddingTask, TopK

__all__ = ["Embedder", "Predictor"]

IMAGE_COLUMNS = ("image", "bytes")


class _OnRay:
    def __init__(self, task, options: RunOptions):
        self.task = task
        self.device = torch.device(options.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.network = prepare_network(task.network(), self.device, options)
        self.transform = task.transform()

    def _rows(self, batch: dict) -> tuple[dict, list]:
        column = next((c for c in IMAGE_COLUMNS if c in batch), None)
        if column is None:
            raise ArgumentError(f"a batch needs an 'image' or 'bytes' column; it has {', '.join(batch)}")
        tensors, errors = [], []
        for source in batch[column]:
            try:
                tensors.append(preprocess(bytes(source) if column == "bytes" else source, self.transform))
                errors.append(None)
            except ArgumentError as e:
                errors.append(str(e))
        images = torch.stack(tensors) if tensors else torch.empty(0)
        items = [Item(i, None) for i in range(len(errors))]
        with torch.inference_mode():
            computed = self.task.compute(self.network(images.to(self.device))) if tensors else []
        kept = {name: values for name, values in batch.items() if name != column}
        rows = self.task.rows(Batch(items, images, errors), computed)
        return kept | {"error": np.array([r.error for r in rows], dtype=object)}, rows


class Predictor(_OnRay):
    """Top-k classes: adds ``label``, ``score`` and ``index`` columns (k per row, best first) and ``error``."""

    def __init__(self, model: str | None = None, weights: str | None = None, *, topk: int = 5, **options):
        super().__init__(TopK(open_model(model, weights), topk), RunOptions(**options))

    def __call__(self, batch: dict) -> dict:
        out, rows = self._rows(batch)
        k = self.task.k
        out["label"] = np.array([[p["label"] for p in r.top] if r.top else [""] * k for r in rows], dtype=object)
        out["score"] = np.array([[p["score"] for p in r.top] if r.top else [np.nan] * k for r in rows], np.float32)
        out["index"] = np.array([[p["index"] for p in r.top] if r.top else [-1] * k for r in rows], np.int64)
        return out


class Embedder(_OnRay):
    """Embeddings: adds an ``embedding`` column (NaN where the image was not read) and ``error``."""

    def __init__(
        self, model: str | None = None, weights: str | None = None, *, layer: str | None = None,
        dtype: str = "float32", **options,
    ):  # fmt: skip
        super().__init__(EmbeddingTask(open_model(model, weights, onnx=False), layer, dtype), RunOptions(**options))

    def __call__(self, batch: dict) -> dict:
        out, rows = self._rows(batch)
        embedding = np.full((len(rows), self.task.dim), np.nan, dtype=self.task.dtype)
        for i, row in enumerate(rows):
            if row.vector is not None:
                embedding[i] = row.vector
        out["embedding"] = embedding
        return out
