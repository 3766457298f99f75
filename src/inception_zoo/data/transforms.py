"""Preprocessing belongs to the weights, never to ``forward``: this module turns it into transforms.

``transforms_for(model)`` gives the torchvision (v2) pipeline that a network's weights were
trained and evaluated with: resize the short side to ``floor(size / crop_pct)``, center-crop
to ``size``, scale to the weights' value range and channel order, normalise. The same
pipeline as timm's ``create_transform`` and torchvision's ``ImageClassification`` preset for
the same weights (tested).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn
from torchvision.transforms import InterpolationMode, v2

__all__ = [
    "AUGMENTATIONS",
    "Preprocessing",
    "ReorderChannels",
    "preprocessing_for",
    "preprocessing_of",
    "to_normalized_tensor",
    "transforms_for",
]

_INTERPOLATION = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


@dataclass(frozen=True)
class Preprocessing:
    """What an image must go through before a network's weights see it."""

    input_size: tuple[int, int, int]
    crop_pct: float
    interpolation: str
    mean: tuple[float, ...]  # in the units of input_range, in channel_order
    std: tuple[float, ...]
    channel_order: str = "RGB"
    input_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATION:
            raise ValueError(f"interpolation must be one of {sorted(_INTERPOLATION)}, got {self.interpolation!r}")
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {self.channel_order!r}")
        if not 0 < self.crop_pct <= 1:
            raise ValueError(f"crop_pct must be in (0, 1], got {self.crop_pct}")

    @property
    def resize_size(self) -> int:
        """The short side before the center crop. (The epsilon keeps 299 / (299 / 342) at 342.)"""
        return math.floor(self.input_size[-1] / self.crop_pct + 1e-6)


class ReorderChannels(nn.Module):
    """RGB -> BGR (the same flip both ways), for weights trained in Caffe's channel order."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image.flip(-3)


def preprocessing_for(name: str, entry=None) -> Preprocessing:
    """A network's preprocessing, with a weight entry's own values where it has them."""
    from ..models import model_info

    info = model_info(name)
    fields = [f.name for f in dataclasses.fields(Preprocessing)]
    values = {field: getattr(info, field) for field in fields}
    if entry is not None:
        values |= {field: getattr(entry, field) for field in fields if getattr(entry, field) is not None}
    return Preprocessing(**values)


def preprocessing_of(model_or_name: nn.Module | str | Preprocessing) -> Preprocessing:
    """The preprocessing of a built model (its weights', if it has any) or of a registered name."""
    if isinstance(model_or_name, Preprocessing):
        return model_or_name
    if isinstance(model_or_name, str):
        return preprocessing_for(model_or_name)
    preprocessing = getattr(model_or_name, "preprocessing", None)
    if preprocessing is None:
        return preprocessing_of(model_or_name.name)
    return preprocessing


AUGMENTATIONS = ("inception", "cifar", "none")


def transforms_for(
    model_or_name: nn.Module | str | Preprocessing, *, train: bool = False, augment: str = "inception"
) -> v2.Compose:
    """The torchvision transforms for a model's weights; takes PIL images or uint8 tensors.

    ``train=True`` gives augmentation instead of the center crop. ``augment="inception"``: a
    random crop of 8%-100% of the area with aspect ratio 3/4-4/3, a horizontal flip, colour
    jitter (GoogLeNet's and the Inception papers'); ``"cifar"``: a random crop of the image
    padded by an eighth, and a flip (the usual small-image recipe); ``"none"``: the eval pipeline.

    Example:
        >>> model = inception_zoo.create_model("inception_v3")
        >>> batch = torch.stack([transforms_for(model)(PIL.Image.open(p).convert("RGB")) for p in paths])
    """
    pre = preprocessing_of(model_or_name)
    size = pre.input_size[-1]
    interpolation = _INTERPOLATION[pre.interpolation]
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTATIONS)}, got {augment!r}")
    if train and augment == "inception":
        geometry = [
            v2.RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation=interpolation),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4),
        ]
    elif train and augment == "cifar":
        geometry = [
            v2.Resize(size, interpolation=interpolation, antialias=True),
            v2.RandomCrop(size, padding=size // 8, padding_mode="reflect"),
            v2.RandomHorizontalFlip(),
        ]
    else:
        geometry = [v2.Resize(pre.resize_size, interpolation=interpolation, antialias=True), v2.CenterCrop(size)]
    # Geometry first: on a PIL image it then uses PIL's resampling, as timm and torchvision do.
    return v2.Compose([*geometry, *to_normalized_tensor(pre)])


def to_normalized_tensor(pre: Preprocessing) -> list[nn.Module]:
    """The steps after the geometry: to float in [0, 1], to the weights' channel order, normalised."""
    scale = pre.input_range[1]  # the values arrive in [0, 1]; fold the weights' range into the statistics
    return [
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        *([ReorderChannels()] if pre.channel_order == "BGR" else []),
        v2.Normalize(mean=[m / scale for m in pre.mean], std=[s / scale for s in pre.std]),
    ]
