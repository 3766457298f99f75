"""FID, KID and the Inception Score of image sets: folders, lists, tar shards, tensors or any iterable
of images (a generator's samples, without writing files), read by the batch reader (decode
workers) and run through the optimised FID network; or, for FID, ``.npz`` statistics.

``options`` are ``inception_zoo.batch.RunOptions``' fields (``batch_size``, ``workers``, ``device``, ...).
On a GPU, TF32 is off while features are computed: FID is sensitive to it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
import torch
from torch import nn

from ..batch.job import RunOptions, stream
from ..batch.tasks import EmbeddingTask
from ..errors import ArgumentError
from ..models._builder import create_model
from .options import DEFAULT_PROTOCOL
from .protocols import protocol_transform
from .statistics import (
    FeatureStatistics,
    RunningStatistics,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    load_statistics,
)

__all__ = ["FID_NETWORK", "Features", "fid", "fid_model", "fid_statistics", "inception_score_of", "kid", "features_of"]

FID_NETWORK = "fid_inception_v3"
STATISTICS_SUFFIX = ".npz"
CHUNK = 256  # features folded into the statistics at a time


def fid_model(weights: str | os.PathLike | None = None) -> nn.Module:
    """The FID network with ``weights``: pytorch-fid's or torch-fidelity's file (default: pytorch-fid's,
    downloaded once)."""
    return create_model(FID_NETWORK, weights=weights if weights else True, require_trained_head=True)


class FidFeatures(EmbeddingTask):
    """The FID network's pool3 features (2048) of images preprocessed by a reference's protocol."""

    kind = "fid"

    def __init__(self, model: nn.Module, protocol: str = DEFAULT_PROTOCOL):
        if getattr(model, "name", None) != FID_NETWORK:
            raise ArgumentError(f"FID is computed with {FID_NETWORK}, not {getattr(model, 'name', model)}")
        super().__init__(model)
        self.protocol = protocol
        self._transform = protocol_transform(protocol)

    def transform(self):
        return self._transform


@contextlib.contextmanager
def _exact_fp32():
    """TF32 off (cuDNN's and cuBLAS's default on recent GPUs rounds fp32 to 10 bits)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@dataclass
class Features:
    """What was read of a set: its statistics, its features and logits (when kept), the skipped images."""

    statistics: FeatureStatistics | None = None
    features: np.ndarray | None = None
    logits: np.ndarray | None = None
    skipped: list[tuple[str | None, str]] = field(default_factory=list)  # (path, why)


def _chunks(rows: Iterator, size: int) -> Iterator[list]:
    while chunk := list(islice(rows, size)):
        yield chunk


def features_of(
    inputs, *, model: nn.Module | None = None, weights=None, protocol: str = DEFAULT_PROTOCOL,
    keep: bool = False, logits: bool = False, on_skip=None, **options,
) -> Features:  # fmt: skip
    """Read ``inputs`` once: the float64 statistics of their pool3 features, and with ``keep`` the features
    themselves (for KID), with ``logits`` the unbiased logits (pool3 times the classifier, no bias: for IS).
    ``on_skip(path, why)`` is called for each unreadable image as it comes."""
    model = model if model is not None else fid_model(weights)
    task = FidFeatures(model, protocol)
    running = RunningStatistics(task.dim)
    kept, logit_parts, result = [], [], Features()
    weight = model.head.fc.weight.detach().float().cpu()
    with _exact_fp32():
        for chunk in _chunks(stream(task, inputs, RunOptions(**options)), CHUNK):
            for row in chunk:
                if row.error:
                    result.skipped.append((row.path, row.error))
                    if on_skip:
                        on_skip(row.path, row.error)
            readable = [row.vector for row in chunk if row.error is None]
            if not readable:
                continue
            batch = np.stack(readable)
            running.add(batch)
            if keep:
                kept.append(batch)
            if logits:
                logit_parts.append((torch.from_numpy(batch) @ weight.T).numpy())
    result.statistics = running.result()
    if keep:
        result.features = np.concatenate(kept)
    if logits:
        result.logits = np.concatenate(logit_parts)
    return result


def _is_statistics(source) -> bool:
    return isinstance(source, str | os.PathLike) and str(source).endswith(STATISTICS_SUFFIX)


def fid_statistics(source, **kwargs) -> FeatureStatistics:
    """The statistics of ``source``: read from an ``.npz``, or computed from its images."""
    if _is_statistics(source):
        return load_statistics(source)
    return features_of(source, **kwargs).statistics


def fid(a, b, *, model: nn.Module | None = None, weights=None, **kwargs) -> float:
    """The Fréchet Inception Distance between two sets (each images, or an ``.npz`` of statistics).

    Example:
        >>> fid("real/", generated_images, weights="pt_inception-2015-12-05-6726825d.pth")
    """
    if model is None and not (_is_statistics(a) and _is_statistics(b)):
        model = fid_model(weights)
    return frechet_distance(fid_statistics(a, model=model, **kwargs), fid_statistics(b, model=model, **kwargs))


def kid(
    a, b, *, model: nn.Module | None = None, weights=None, subsets: int = 100, subset_size: int = 1000, **kwargs
) -> tuple[float, float]:
    """The Kernel Inception Distance (mean, standard deviation over subsets) between two image sets."""
    model = model if model is not None else fid_model(weights)
    first, second = (features_of(s, model=model, keep=True, **kwargs).features for s in (a, b))
    return kernel_inception_distance(first, second, subsets=subsets, subset_size=subset_size)


def inception_score_of(images, *, splits: int = 10, **kwargs) -> tuple[float, float]:
    """The Inception Score (mean, standard deviation over ``splits``) of an image set."""
    return inception_score(features_of(images, logits=True, **kwargs).logits, splits=splits)
