"""What a batch job computes from each batch of images: top-k classes, or embeddings.

A task turns the network it is given into the one it runs (the classifier as it is; for
embeddings a copy that stops before the last linear layer, or at a named feature map, pooled),
makes the model's outputs into rows, and states the options that make its results what they are
(a resumed job must have the same ones).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..data.transforms import transforms_for
from ..errors import ArgumentError
from ..models._base import InceptionNet
from .loading import Batch
from .options import EMBEDDING_DTYPES

__all__ = ["Embedding", "EmbeddingTask", "Prediction", "TopK"]


@dataclass
class Prediction:
    """The top classes of one image (``error`` set, and ``top`` empty, when it could not be read)."""

    path: str | None
    top: list[dict] = field(default_factory=list)  # {"index", "label", "score"}, best first
    error: str | None = None


@dataclass
class Embedding:
    """The embedding of one image (``vector`` None, and ``error`` set, when it could not be read)."""

    path: str | None
    vector: np.ndarray | None = None
    error: str | None = None


def _rows(batch: Batch, computed: list, make_row, make_error) -> list:
    """One row per item of ``batch``: ``make_row(item, value)`` in order for the readable ones."""
    values = iter(computed)
    return [
        make_error(item, error) if error else make_row(item, next(values))
        for item, error in zip(batch.items, batch.errors, strict=True)
    ]


class TopK:
    """The ``k`` most probable classes of each image, with the weights' class names."""

    kind = "predict"

    def __init__(self, model: nn.Module, k: int = 5):
        if k < 1:
            raise ArgumentError(f"topk must be >= 1, got {k}", option="topk")
        self.model = model
        self.k = min(k, model.num_classes)
        self.labels = getattr(model, "labels", None)

    @property
    def options(self) -> dict:
        return {"topk": self.k}

    def transform(self):
        """What each image goes through before the network: the weights' own preprocessing."""
        return transforms_for(self.model)

    def network(self) -> nn.Module:
        """A copy of the classifier, to be moved and rewritten without touching the caller's model."""
        return copy.deepcopy(self.model) if isinstance(self.model, InceptionNet) else self.model

    def compute(self, outputs: torch.Tensor) -> list:
        scores, indices = outputs.float().softmax(dim=1).topk(self.k, dim=1)
        return list(zip(scores.cpu().tolist(), indices.cpu().tolist(), strict=True))

    def rows(self, batch: Batch, computed: list) -> list[Prediction]:
        def row(item, value):
            scores, indices = value
            top = [
                {"index": i, "label": self.labels[i] if self.labels else str(i), "score": s}
                for i, s in zip(indices, scores, strict=True)
            ]
            return Prediction(item.path, top)

        return _rows(batch, computed, row, lambda item, error: Prediction(item.path, error=error))


class EmbeddingTask:
    """Each image's pooled pre-logits features (``forward_head(..., pre_logits=True)``), or the feature
    map ``layer`` (a module of ``feature_info``) average-pooled; stored as ``dtype``."""

    kind = "embed"

    def __init__(self, model: nn.Module, layer: str | None = None, dtype: str = "float32"):
        if not isinstance(model, InceptionNet):
            raise ArgumentError(
                "embeddings need the network itself (a .safetensors file or --model), not an ONNX file",
                option="weights",
            )
        if dtype not in EMBEDDING_DTYPES:
            raise ArgumentError(f"dtype must be one of {', '.join(EMBEDDING_DTYPES)}, got {dtype!r}", option="dtype")
        self.model, self.layer, self.dtype = model, layer, dtype
        self.tap = None if layer is None else self._tap(layer)
        self.dim = model.feature_info[self.tap]["num_chs"] if layer is not None else model.head_hidden_size

    def _tap(self, layer: str) -> int:
        modules = [info["module"] for info in self.model.feature_info]
        for i, module in enumerate(modules):
            if layer in (module, module.removeprefix("features.")):
                return i
        raise ArgumentError(f"{self.model.name} has no feature map {layer!r}; it has: {', '.join(modules)}")

    @property
    def options(self) -> dict:
        return {"layer": self.layer, "dtype": self.dtype, "dim": self.dim}

    def transform(self):
        return transforms_for(self.model)

    def network(self) -> nn.Module:
        """A copy of the network whose output is the embedding."""
        network = copy.deepcopy(self.model)
        if self.tap is None:
            network.reset_classifier(0)  # the head's pooling (and hidden layer) stay: the pre-logits
        else:
            network.prune_intermediate_layers([self.tap])  # up to the map (timm's way: without pooling)
            network.reset_classifier(0, "avg")  # then average pooling
        return network

    def compute(self, outputs: torch.Tensor) -> list:
        return list(outputs.to(getattr(torch, self.dtype)).cpu().numpy())

    def rows(self, batch: Batch, computed: list) -> list[Embedding]:
        return _rows(
            batch,
            computed,
            lambda item, vector: Embedding(item.path, vector),
            lambda item, error: Embedding(item.path, error=error),
        )
