"""Preprocessing belongs to the weights, never to ``forward``: this module turns it into transforms.

``transforms_for(model)`` gives the torchvision (v2) pipeline that a network's weights were
trained and evaluated with: resize the short side to ``floor(size / crop_pct)``, center-crop
to ``size``, scale to the weights' value range and channel order, normalise. The same
pipeline as timm's ``create_transform`` and torchvision's ``ImageClassification`` preset for
the same weights (tested).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.transforms import InterpolationMode, v2

from ..errors import ArgumentError
from ..models._metadata import Preprocessing
from ..models._zoo import registered
from .options import AUGMENTATIONS

__all__ = [
    "INTERPOLATION_MODES",
    "Preprocessing",
    "ReorderChannels",
    "preprocessing_for",
    "preprocessing_of",
    "to_normalized_tensor",
    "transforms_for",
]

INTERPOLATION_MODES = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


class ReorderChannels(nn.Module):
    """RGB -> BGR (the same flip both ways), for weights trained in Caffe's channel order."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image.flip(-3)


def preprocessing_for(name: str, entry=None) -> Preprocessing:
    """A registered network's preprocessing, or that of one of its weight entries."""
    return registered(name).card.preprocessing_for(entry)


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
    interpolation = INTERPOLATION_MODES[pre.interpolation]
    if augment not in AUGMENTATIONS:
        raise ArgumentError(f"augment must be one of {', '.join(AUGMENTATIONS)}, got {augment!r}")
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
