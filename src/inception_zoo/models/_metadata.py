"""The metadata types: what a model file declares about a network and its published weights, and
what a built model carries.

- ``ModelCard``: a network's paper, its preprocessing (one ``Preprocessing``), its published
  checkpoints (``WeightEntry``, each overriding the fields of that preprocessing it changes).
- ``ModelMetadata``: the one object a built model carries (``model.metadata``): its registered
  name, the options it was built with, its preprocessing, labels, provenance and feature maps.
  ``HasMetadata`` gives a model (and every wrapper that stands for one) the same views of it.

Plain data, no torch: the command line reads these without loading it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArgumentError

__all__ = [
    "IMAGENET_MEAN",
    "FeatureInfo",
    "IMAGENET_STD",
    "INCEPTION_MEAN",
    "INCEPTION_STD",
    "INTERPOLATIONS",
    "HasMetadata",
    "ModelCard",
    "ModelMetadata",
    "Paper",
    "Preprocessing",
    "WeightEntry",
    "preprocessing_of_cfg",
    "pretrained_cfg",
    "timm_weights",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# TensorFlow-trained weights expect inputs in [-1, 1].
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")

# torch.hub's convention: a published file's name ends in a prefix of its SHA-256 ("googlenet-1378be20.pth").
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$")
_HUGGING_FACE = re.compile(r"^https://huggingface\.co/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<file>.+)$")


@dataclass(frozen=True)
class Paper:
    title: str
    arxiv: str

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"


@dataclass(frozen=True)
class Preprocessing:
    """What an image must go through before a network's weights see it."""

    input_size: tuple[int, int, int]
    crop_pct: float
    interpolation: str
    mean: tuple[float, ...]  # in the units of input_range, in channel_order
    std: tuple[float, ...]
    channel_order: str = "RGB"  # "BGR" for Caffe-trained weights
    input_range: tuple[float, float] = (0.0, 1.0)  # (0, 255) for Caffe-trained weights

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ArgumentError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {self.interpolation!r}")
        if self.channel_order not in ("RGB", "BGR"):
            raise ArgumentError(f"channel_order must be 'RGB' or 'BGR', got {self.channel_order!r}")
        if not 0 < self.crop_pct <= 1:
            raise ArgumentError(f"crop_pct must be in (0, 1], got {self.crop_pct}")

    @property
    def resize_size(self) -> int:
        """The short side before the center crop. (The epsilon keeps 299 / (299 / 342) at 342.)"""
        return int(self.input_size[-1] / self.crop_pct + 1e-6)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Preprocessing:
        """From ``dataclasses.asdict`` output read back from JSON (lists become tuples again)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


_PREPROCESSING_FIELDS = frozenset(f.name for f in dataclasses.fields(Preprocessing))


@dataclass(frozen=True)
class WeightEntry:
    """One published checkpoint of a network: where it lives, what its inputs look like, how good it is.

    ``url`` is a direct download (kept in torch's hub cache; a SHA-256 prefix in its file name,
    torch.hub's convention, is checked) or a file on the Hugging Face Hub,
    ``https://huggingface.co/<repo>/resolve/<revision>/<file>`` (kept in the Hub's cache; the
    Hub's SHA-256 of the file is checked).
    """

    tag: str  # "source:name", e.g. "timm:inception_v3.tf_in1k", "torchvision:IMAGENET1K_V1"
    url: str
    preprocessing: dict[str, Any] = field(default_factory=dict)  # the card's Preprocessing fields this changes
    num_classes: int = 1000  # after dropping TF-slim's background class, where there is one
    labels: str = "imagenet-1k"  # the label set (inception_zoo.labels)
    top1: float | None = None  # published ImageNet-1k validation accuracy, single center crop
    top5: float | None = None
    metrics_source: str = ""  # where top1/top5 were published
    notes: str = ""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.preprocessing) - _PREPROCESSING_FIELDS)
        if unknown:
            raise ArgumentError(f"{self.tag}: {unknown} are not preprocessing fields ({sorted(_PREPROCESSING_FIELDS)})")

    @property
    def hugging_face(self) -> tuple[str, str, str] | None:
        """``(repo, revision, file)`` for a file on the Hugging Face Hub, else None."""
        match = _HUGGING_FACE.match(self.url)
        return (match["repo"], match["revision"], match["file"]) if match else None

    @property
    def sha256_prefix(self) -> str | None:
        """The hash prefix a direct download's file name publishes, if it has one."""
        match = None if self.hugging_face else _HASH_IN_NAME.search(self.cache_name)
        return match[1] if match else None

    @property
    def cache_name(self) -> str:
        """The file's name in its cache."""
        return self.url.rsplit("/", 1)[-1]


def timm_weights(
    name: str, top1: float, top5: float, source: str = "timm results-imagenet.csv", **fields
) -> WeightEntry:
    """A checkpoint timm publishes on the Hugging Face Hub as ``timm/<name>``, e.g. ``"inception_v3.tf_in1k"``."""
    return WeightEntry(
        tag=f"timm:{name}",
        url=f"https://huggingface.co/timm/{name}/resolve/main/model.safetensors",
        top1=top1,
        top5=top5,
        metrics_source=source,
        **fields,
    )


@dataclass(frozen=True)
class ModelCard:
    """What a model file declares about a network (everything but what is counted from the code)."""

    paper: Paper
    preprocessing: Preprocessing  # the network's own; a weight entry may change some fields
    references: tuple[str, ...] = ()  # implementations whose checkpoints give our logits
    aux_loss_weight: float | None = None
    notes: str = ""
    weights: tuple[WeightEntry, ...] = ()  # published checkpoints; the first is the default

    @property
    def input_size(self) -> tuple[int, int, int]:
        return self.preprocessing.input_size

    @property
    def weight_tags(self) -> list[str]:
        return [entry.tag for entry in self.weights]

    def weight_entry(self, tag: str | bool) -> WeightEntry:
        """The entry for ``tag`` (``True``: the default one)."""
        if not self.weights:
            raise ArgumentError(
                "no published weights are known for this network; pass a checkpoint file as weights",
                cli="no published weights are known for this network; give a checkpoint file with --weights",
            )
        if tag is True:
            return self.weights[0]
        for entry in self.weights:
            if entry.tag == tag:
                return entry
        raise ArgumentError(f"unknown weights {tag!r}; known: {', '.join(self.weight_tags)}, or a file path")

    def preprocessing_for(self, entry: WeightEntry | None) -> Preprocessing:
        """The preprocessing of ``entry``'s weights: the network's, with the entry's own fields."""
        return dataclasses.replace(self.preprocessing, **entry.preprocessing) if entry else self.preprocessing


class FeatureInfo(list):
    """The feature maps a network offers (``features_only``, ``forward_intermediates``): a list of
    ``dict(num_chs=..., reduction=..., module=...)``, ``module`` being the layer's path in the model, with
    timm's accessors. ``idx``: one index, a sequence of them, or None for all."""

    def get(self, key: str, idx: int | Sequence[int] | None = None) -> Any:
        if idx is None:
            return [info[key] for info in self]
        if isinstance(idx, int):
            return self[idx][key]
        return [self[i][key] for i in idx]

    def get_dicts(self, keys: Sequence[str] | None = None, idx: int | Sequence[int] | None = None) -> Any:
        def pick(info: dict) -> dict:
            return dict(info) if keys is None else {k: info[k] for k in keys}

        if idx is None:
            return [pick(info) for info in self]
        if isinstance(idx, int):
            return pick(self[idx])
        return [pick(self[i]) for i in idx]

    def channels(self, idx: int | Sequence[int] | None = None) -> Any:
        return self.get("num_chs", idx)

    def reduction(self, idx: int | Sequence[int] | None = None) -> Any:
        return self.get("reduction", idx)

    def module_name(self, idx: int | Sequence[int] | None = None) -> Any:
        return self.get("module", idx)


@dataclass(frozen=True)
class ModelMetadata:
    """What a built model is and where its weights came from: one object, on the model and its wrappers."""

    name: str  # the registered name
    config: dict[str, Any]  # the options it was built with (JSON-serialisable): create_model(name, **config)
    preprocessing: Preprocessing  # what its inputs must go through
    labels: list[str] | None  # class names; None where the label set publishes none
    provenance: dict[str, Any]  # where its weights came from
    feature_info: tuple[dict, ...] = ()  # the feature maps of features_only=True


class HasMetadata:
    """Views of ``self.metadata`` for a model or anything standing for one (feature extractor, ONNX runtime).

    ``labels`` and ``preprocessing`` may be set (fine-tuning changes both); the rest is read-only.
    """

    metadata: ModelMetadata | None = None

    @property
    def name(self) -> str:
        return self.metadata.name if self.metadata else type(self).__name__

    @property
    def config(self) -> dict[str, Any] | None:
        return self.metadata.config if self.metadata else None

    @property
    def provenance(self) -> dict[str, Any]:
        return self.metadata.provenance if self.metadata else {}

    @property
    def feature_info(self) -> FeatureInfo:
        return FeatureInfo(self.metadata.feature_info if self.metadata else ())

    @property
    def preprocessing(self) -> Preprocessing | None:
        return self.metadata.preprocessing if self.metadata else None

    @preprocessing.setter
    def preprocessing(self, value: Preprocessing) -> None:
        self._update_metadata(preprocessing=value)

    @property
    def labels(self) -> list[str] | None:
        return self.metadata.labels if self.metadata else None

    @labels.setter
    def labels(self, value: list[str] | None) -> None:
        self._update_metadata(labels=None if value is None else list(value))

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        """timm's description of the weights (what ``timm.data.resolve_data_config`` reads)."""
        return pretrained_cfg(self)

    default_cfg = pretrained_cfg

    def _update_metadata(self, **changes: Any) -> None:
        if self.metadata is None:
            raise ArgumentError(f"{self.name} has no metadata: build it with create_model")
        self.metadata = dataclasses.replace(self.metadata, **changes)


def pretrained_cfg(model: HasMetadata, **extra: Any) -> dict[str, Any]:
    """timm's ``pretrained_cfg`` of ``model``, from its metadata: size, crop, interpolation, and mean and
    std on timm's [0, 1] scale. timm has no channel order: Caffe's BGR weights (bn_inception) say so in
    ``channel_order``, which timm's transforms do not read."""
    pre = model.preprocessing
    if pre is None:
        raise ArgumentError(f"{model.name} was not built by create_model: it has no preprocessing")
    scale = pre.input_range[1]
    return {
        "architecture": model.name,
        "source": model.provenance.get("weights"),
        "num_classes": getattr(model, "num_classes", None),
        "input_size": tuple(pre.input_size),
        "interpolation": pre.interpolation,
        "crop_pct": pre.crop_pct,
        "crop_mode": "center",
        "mean": tuple(m / scale for m in pre.mean),
        "std": tuple(s / scale for s in pre.std),
        "channel_order": pre.channel_order,
        **extra,
    }


def preprocessing_of_cfg(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Preprocessing`` fields a timm ``pretrained_cfg`` sets (the inverse of ``pretrained_cfg``;
    timm's inputs are RGB in [0, 1] unless it says otherwise)."""
    fields: dict[str, Any] = {"channel_order": cfg.get("channel_order", "RGB"), "input_range": (0.0, 1.0)}
    for key in ("input_size", "crop_pct", "mean", "std"):
        if cfg.get(key) is not None:
            fields[key] = tuple(cfg[key]) if isinstance(cfg[key], list | tuple) else cfg[key]
    if cfg.get("interpolation") in INTERPOLATIONS:
        fields["interpolation"] = cfg["interpolation"]
    return fields
