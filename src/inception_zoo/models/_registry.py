"""The registry: every network's name, builder and facts, declared next to the model.

A model file registers a builder with ``@register_model(ModelCard(...))``. ``model_info``
adds the parameter and multiply-add counts, counted from the code itself on the ``meta``
device (no memory, no arithmetic), so that the numbers can never drift from the network.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from ._features import find_feature_info

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INCEPTION_MEAN",
    "INCEPTION_STD",
    "ModelCard",
    "ModelInfo",
    "Paper",
    "WeightEntry",
    "builder_for",
    "list_models",
    "model_info",
    "register_model",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# TensorFlow-trained weights expect inputs in [-1, 1].
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Paper:
    title: str
    arxiv: str

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"


@dataclass(frozen=True)
class WeightEntry:
    """One published checkpoint of a network: where it lives, what its inputs look like, how good it is.

    Preprocessing fields left ``None`` are the network's (its ``ModelCard``'s).
    """

    tag: str  # "source:name", e.g. "timm:inception_v3.tv_in1k", "torchvision:IMAGENET1K_V1"
    url: str  # a direct download
    file_name: str = ""  # the name in the download cache; default: the URL's last part
    sha256_prefix: str = ""  # the hash (prefix) the source publishes, checked after download
    num_classes: int = 1000  # after dropping TF-slim's background class, where there is one
    labels: str = "imagenet-1k"  # the label set (inception_zoo.labels)
    input_size: tuple[int, int, int] | None = None
    crop_pct: float | None = None
    interpolation: str | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    channel_order: str | None = None
    input_range: tuple[float, float] | None = None
    top1: float | None = None  # published ImageNet-1k validation accuracy, single center crop
    top5: float | None = None
    metrics_source: str = ""  # where top1/top5 were published
    notes: str = ""

    @property
    def cache_name(self) -> str:
        return self.file_name or self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ModelCard:
    """What a model file declares about a network (everything but the counted numbers)."""

    paper: Paper
    input_size: tuple[int, int, int]
    mean: tuple[float, float, float]  # in the units of input_range, in channel_order
    std: tuple[float, float, float]
    interpolation: str
    crop_pct: float
    channel_order: str = "RGB"  # "BGR" for Caffe-trained weights
    input_range: tuple[float, float] = (0.0, 1.0)  # (0, 255) for Caffe-trained weights
    references: tuple[str, ...] = ()
    aux_loss_weight: float | None = None
    notes: str = ""
    weights: tuple[WeightEntry, ...] = ()  # published checkpoints; the first is the default

    @property
    def weight_tags(self) -> list[str]:
        return [entry.tag for entry in self.weights]

    def weight_entry(self, tag: str | bool) -> WeightEntry:
        """The entry for ``tag`` (``True``: the default one)."""
        if not self.weights:
            raise ValueError("no published weights are known for this network; pass a checkpoint file instead")
        if tag is True:
            return self.weights[0]
        for entry in self.weights:
            if entry.tag == tag:
                return entry
        raise ValueError(f"unknown weights {tag!r}; known: {', '.join(self.weight_tags)}, or a file path")


@dataclass(frozen=True)
class ModelInfo(ModelCard):
    """A ``ModelCard`` plus its name and what was read or counted from the code.

    ``params`` and ``gmacs`` are for the default build: 1000 classes, no side classifiers
    (they are dropped at inference), at ``input_size``. ``feature_info`` lists the feature
    maps of ``features_only=True``: the last layer at each stride (timm's convention).
    """

    name: str = ""
    min_input_size: int = 0
    params: int = 0
    gmacs: float = 0.0
    aux_heads: int = 0
    feature_info: tuple[dict, ...] = ()


_BUILDERS: dict[str, Callable[..., torch.nn.Module]] = {}
_CARDS: dict[str, ModelCard] = {}


def register_model(card: ModelCard) -> Callable:
    """Register a builder under its function's name. A name may be registered once."""

    def decorate(builder: Callable[..., torch.nn.Module]) -> Callable[..., torch.nn.Module]:
        name = builder.__name__
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is registered twice")
        _BUILDERS[name] = builder
        _CARDS[name] = card
        return builder

    return decorate


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, sorted, optionally filtered by a glob such as ``"inception_v*"``."""
    names = sorted(_BUILDERS)
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def _unknown(name: str) -> ValueError:
    import difflib

    close = difflib.get_close_matches(name, _BUILDERS, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known models: {', '.join(sorted(_BUILDERS))}"
    return ValueError(f"unknown model {name!r}{hint}")


def builder_for(name: str) -> Callable[..., torch.nn.Module]:
    if name not in _BUILDERS:
        raise _unknown(name)
    return _BUILDERS[name]


def registered_card(name: str) -> ModelCard:
    if name not in _CARDS:
        raise _unknown(name)
    return _CARDS[name]


def model_class_of(builder: Callable[..., torch.nn.Module]) -> type:
    """The class a builder returns: its ``model_class`` attribute, or its return annotation."""
    if hasattr(builder, "model_class"):
        return builder.model_class
    annotation = inspect.signature(builder).return_annotation
    return builder.__globals__[annotation] if isinstance(annotation, str) else annotation


@functools.cache
def model_info(name: str) -> ModelInfo:
    """Facts about a registered network: paper, preprocessing, sizes, and counted params and GMACs."""
    card = _CARDS.get(name)
    if card is None:
        raise _unknown(name)
    with torch.device("meta"):
        model = _BUILDERS[name]().eval()  # the default build, side heads included (forward skips them)
    with FlopCounterMode(display=False) as counter:
        feature_info = find_feature_info(model, card.input_size, then_head=True)
    params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("aux_heads."))
    fields = {f.name: getattr(card, f.name) for f in dataclasses.fields(ModelCard)}
    return ModelInfo(
        **fields,
        name=name,
        min_input_size=model.min_input_size,
        params=params,
        gmacs=counter.get_total_flops() / 2e9,
        aux_heads=len(model.aux_heads),
        feature_info=tuple(feature_info),
    )
