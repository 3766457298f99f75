"""What one server holds: its models (each with its name, labels, preprocessing and own batcher), its
limits, metrics and access key, and whether it is ready."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from torch import nn

from ..data.transforms import preprocessing_of, transforms_for
from ..errors import ArgumentError, InceptionZooError
from ..optimize.inference import optimize_for_inference
from ..runtime import OnnxModel
from .batcher import Batcher
from .limits import Limits
from .metrics import Metrics

__all__ = ["NotServed", "Overloaded", "ServedModel", "Service", "served_models"]

VERSION = "1"  # one version per served name: a new version is a new server (or a new name)


@dataclass(eq=False)
class ServedModel:
    """One model as served: under its name, with its own batcher, and a count of the images it has
    accepted and not yet answered (``accepted``, bounded by ``Limits.max_queue``)."""

    name: str
    model: nn.Module  # as given: its metadata, labels and preprocessing
    batcher: Batcher
    load_seconds: float
    transform: Callable  # an image in, the model's input tensor out
    accepted: int = 0

    @contextmanager
    def admitted(self, images: int, limit: int) -> Iterator[None]:
        """Holds ``images`` places in this model's queue for a request's lifetime; ``Overloaded`` when
        fewer are free, before any work is done for it."""
        if self.accepted + images > limit:
            raise Overloaded(f"model {self.name!r} has {self.accepted} images waiting (the limit is {limit}): retry")
        self.accepted += images
        try:
            yield
        finally:
            self.accepted -= images

    @property
    def version(self) -> str:
        return VERSION

    @property
    def labels(self) -> list[str]:
        return getattr(self.model, "labels", None) or [str(i) for i in range(self.model.num_classes)]

    @property
    def input_size(self) -> tuple[int, int, int]:
        return tuple(preprocessing_of(self.model).input_size)

    @property
    def runtime(self) -> str:
        return "onnxruntime" if isinstance(self.model, OnnxModel) else "torch"

    def info(self) -> dict:
        return {
            "model": self.model.name,
            "version": self.version,
            "num_labels": len(self.labels),
            "preprocessing": dataclasses.asdict(preprocessing_of(self.model)),
            "provenance": getattr(self.model, "provenance", {}),
            "runtime": self.runtime,
            "quantization": getattr(self.model, "quantization", None),
            "served": {"batches": self.batcher.batches, "images": self.batcher.images},
        }


def served_models(
    models: nn.Module | Iterable[nn.Module] | Mapping[str, nn.Module], limits: Limits, metrics: Metrics,
    *, optimize: bool,
) -> dict[str, ServedModel]:  # fmt: skip
    """Each model under its name (a mapping's key, else its network's registered name), ready to batch.

    ``optimize`` serves ``optimize_for_inference(model)`` (same outputs, faster on a CPU); an
    ``OnnxModel`` is served as it is, by ONNX Runtime.
    """
    if isinstance(models, nn.Module):
        models = [models]
    named = list(models.items()) if isinstance(models, Mapping) else [(m.name, m) for m in models]
    if not named:
        raise ArgumentError("a server needs at least one model")
    served: dict[str, ServedModel] = {}
    for name, model in named:
        if not name or "/" in name:
            raise ArgumentError(f"a served model's name must be non-empty and without '/', got {name!r}")
        if name in served:
            raise ArgumentError(f"two models are named {name!r}: give each its own name", option="name")
        start = time.perf_counter()
        model.eval()
        runner = optimize_for_inference(model) if optimize and not isinstance(model, OnnxModel) else model
        seconds = time.perf_counter() - start
        batcher = Batcher(runner, limits)
        batcher.on_batch = metrics.add_model(name, seconds, lambda b=batcher: b.waiting)
        served[name] = ServedModel(name, model, batcher, seconds, transforms_for(model))
    return served


@dataclass(eq=False)
class Service:
    """Everything one server holds, shared by its endpoints."""

    models: dict[str, ServedModel]
    limits: Limits
    metrics: Metrics
    api_key: str | None = field(default=None, repr=False)  # never shown
    started: bool = False  # the batchers run
    draining: bool = False  # a shutdown has begun: answering what was accepted, taking nothing new

    @property
    def ready(self) -> bool:
        return self.started and not self.draining

    def model(self, name: str | None = None, version: str | None = None) -> ServedModel:
        """The model ``name`` (default: the first given), at ``version`` if one is asked for; ``NotServed``
        names the served ones, unless the server has a key (then the names are for those who have it)."""
        if name is None:
            return next(iter(self.models.values()))
        served = self.models.get(name)
        if served is None:
            known = "" if self.api_key else f"; this server has {', '.join(map(repr, self.models))}"
            raise NotServed(f"no model named {name!r}{known}")
        if version is not None and version != served.version:
            raise NotServed(f"model {name!r} has version {served.version!r} only, not {version!r}")
        return served


class Overloaded(InceptionZooError):
    """More images are waiting for a model than the server accepts (HTTP 503)."""


class NotServed(InceptionZooError):
    """No such model or version here (HTTP 404)."""
