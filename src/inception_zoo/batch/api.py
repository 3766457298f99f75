"""Top-k predictions and embeddings for many images: as an iterator, or written to a file as a resumable job.

``inputs`` is a path or a list of paths (image files, folders searched recursively, ``.txt`` files
listing image paths, webdataset-style ``.tar`` shards), or an iterable of in-memory images (PIL
images, HWC uint8 arrays, CHW tensors: a generator's samples, say). ``options`` are ``RunOptions``'
fields: ``batch_size``, ``workers``, ``device``, ``optimize``, ``compute_dtype``, ``compile``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from torch import nn

from .job import RunOptions, Summary, run_to_file, stream
from .options import PART_SIZE
from .tasks import Embedding, EmbeddingTask, Prediction, TopK

__all__ = ["embed", "embed_to_file", "predict", "predict_to_file"]


def predict(model: nn.Module, inputs, *, topk: int = 5, **options) -> Iterator[Prediction]:
    """The ``topk`` classes of each image, in input order; an unreadable image is a ``Prediction`` with
    its ``error``, never a stop. The model runs through ``optimize_for_inference`` unless ``optimize=False``.

    Example:
        >>> model = create_model("inception_v3", weights=True)
        >>> for p in predict(model, ["photos/"], batch_size=64, workers=4):
        ...     print(p.path, p.error or p.top[0]["label"])
    """
    return stream(TopK(model, topk), inputs, RunOptions(**options))


def embed(
    model: nn.Module, inputs, *, layer: str | None = None, dtype: str = "float32", **options
) -> Iterator[Embedding]:
    """Each image's pooled pre-logits features (or, with ``layer``, that feature map average-pooled), as
    ``Embedding(path, vector, error)`` in input order.

    Example:
        >>> vectors = [e.vector for e in embed(model, samples) if e.error is None]
    """
    return stream(EmbeddingTask(model, layer, dtype), inputs, RunOptions(**options))


def predict_to_file(
    model: nn.Module, inputs, output: str | os.PathLike, *, topk: int = 5, overwrite: bool = False,
    part_size: int = PART_SIZE, progress: bool = True, **options,
) -> Summary:  # fmt: skip
    """``predict`` into ``output`` (``.csv``, ``.jsonl`` or ``.parquet``): resumed if an earlier run of the same
    job was stopped, shared among the processes under torchrun.

    Example:
        >>> predict_to_file(model, ["shards/"], "labels.parquet", batch_size=128).errors
        0
    """
    task = TopK(model, topk)
    return run_to_file(task, inputs, output, RunOptions(**options), overwrite=overwrite, part_size=part_size,
                       progress=progress)  # fmt: skip


def embed_to_file(
    model: nn.Module, inputs, output: str | os.PathLike, *, layer: str | None = None, dtype: str = "float32",
    overwrite: bool = False, part_size: int = PART_SIZE, progress: bool = True, **options,
) -> Summary:  # fmt: skip
    """``embed`` into ``output`` (``.parquet``, or ``.npy`` with a ``.rows.jsonl`` of paths): resumable and
    shared under torchrun as ``predict_to_file``."""
    task = EmbeddingTask(model, layer, dtype)
    return run_to_file(task, inputs, output, RunOptions(**options), overwrite=overwrite, part_size=part_size,
                       progress=progress)  # fmt: skip
