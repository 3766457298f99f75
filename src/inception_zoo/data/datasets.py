"""The data sets the trainer reads: image folders, CIFAR, and handwritten digits that work offline.

An unreadable image never ends a run: ``ImageFolder`` here yields an ``Unreadable`` marker in
its place, and ``collate_skipping`` drops it from the batch and hands its name on, so the
trainer can count it and say which file it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from PIL import Image
from torch.utils.data import Dataset, default_collate

from .._paths import cache_home
from ..errors import ArgumentError, DownloadError, needs_extra
from .images import UnreadableImage, read_rgb
from .options import DATASETS

__all__ = ["DigitsDataset", "ImageFolder", "Transformed", "Unreadable", "collate_skipping", "load_datasets"]


@dataclass(frozen=True)
class Unreadable:
    """Stands in for an image that could not be read."""

    path: str
    error: str


class ImageFolder(torchvision.datasets.ImageFolder):
    """torchvision's ImageFolder (``root/<class>/<image>``) that marks unreadable images instead of raising."""

    def __getitem__(self, index: int):
        path, target = self.samples[index]
        try:
            image = read_rgb(path)
        except UnreadableImage as e:
            return Unreadable(path, str(e))
        if self.transform is not None:
            image = self.transform(image)
        return image, target


class Transformed(Dataset):
    """A data set of ``(PIL image, target)`` seen through ``transform``, leaving the data set itself alone."""

    def __init__(self, dataset: Dataset, transform):
        self.dataset, self.transform = dataset, transform
        self.classes = getattr(dataset, "classes", None)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        item = self.dataset[index]
        if isinstance(item, Unreadable):
            return item
        image, target = item
        return self.transform(image), target


def collate_skipping(batch: list) -> tuple[torch.Tensor | None, torch.Tensor | None, list[Unreadable]]:
    """``(images, targets, unreadable)``: the readable samples stacked, and the markers of the rest."""
    unreadable = [item for item in batch if isinstance(item, Unreadable)]
    good = [item for item in batch if not isinstance(item, Unreadable)]
    if not good:
        return None, None, unreadable
    images, targets = default_collate(good)
    return images, targets, unreadable


class DigitsDataset(Dataset):
    """scikit-learn's 1,797 handwritten digits (8x8, 10 classes), shipped with the package: data that needs no
    download. Images become RGB PIL images, upscaled to ``size``; a fixed 80/20 split by ``seed``."""

    def __init__(self, split: str, *, size: int = 32, transform=None, seed: int = 0):
        with needs_extra("train", "the digits data set (it comes with scikit-learn)"):
            from sklearn.datasets import load_digits
        if split not in ("train", "val"):
            raise ArgumentError(f"split must be 'train' or 'val', got {split!r}")
        digits = load_digits()
        order = torch.randperm(len(digits.target), generator=torch.Generator().manual_seed(seed))
        cut = int(0.8 * len(order))
        self.indices = order[:cut] if split == "train" else order[cut:]
        self.images = (digits.images * (255 / 16)).round().astype("uint8")  # values 0..16
        self.targets = digits.target
        self.classes = [str(d) for d in range(10)]
        self.size = size
        self.transform = transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        i = int(self.indices[index])
        image = Image.fromarray(self.images[i]).resize((self.size, self.size), Image.BILINEAR).convert("RGB")
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[i])


def load_datasets(
    *,
    data: str | os.PathLike | None = None,
    dataset: str | None = None,
    train_transform=None,
    val_transform=None,
    image_size: int = 32,
    download: bool = True,
) -> tuple[Dataset, Dataset, list[str]]:
    """``(train, val, class names)`` from ``data`` (a folder with ``train/`` and ``val/``) or a named ``dataset``."""
    if (data is None) == (dataset is None):
        raise ArgumentError("give either a data folder (with train/ and val/ inside) or a dataset name, not both")
    if dataset == "digits":
        train = DigitsDataset("train", size=image_size, transform=train_transform)
        return train, DigitsDataset("val", size=image_size, transform=val_transform), train.classes
    if dataset in ("cifar10", "cifar100"):
        return _cifar(dataset, data_root(), train_transform, val_transform, download)
    if dataset is not None:
        raise ArgumentError(f"unknown dataset {dataset!r}: use one of {', '.join(DATASETS)}, or a data folder")
    root = Path(data)
    missing = [split for split in ("train", "val") if not (root / split).is_dir()]
    if missing:
        raise ArgumentError(
            f"{root} has no {' or '.join(f'{m}/' for m in missing)} folder: the layout is "
            f"{root}/train/<class>/<image> and {root}/val/<class>/<image>"
        )
    train = ImageFolder(root / "train", transform=train_transform)
    val = ImageFolder(root / "val", transform=val_transform)
    if val.classes != train.classes:
        raise ArgumentError(f"{root}/val has classes {val.classes}, but {root}/train has {train.classes}")
    return train, val, train.classes


def data_root() -> Path:
    """Where named data sets are kept: $INCEPTION_ZOO_DATA, or the ``data`` folder of our cache."""
    return Path(os.environ.get("INCEPTION_ZOO_DATA") or cache_home() / "data")


def _cifar(name: str, root: Path, train_transform, val_transform, download: bool):
    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    try:
        train = cls(root, train=True, transform=train_transform, download=download)
        val = cls(root, train=False, transform=val_transform, download=download)
    except (OSError, RuntimeError) as e:  # no network, or no files and download=False
        raise DownloadError(
            f"{name} is not in {root} and could not be downloaded ({e}); on an offline machine copy torchvision's "
            f"{name} files there (or set INCEPTION_ZOO_DATA), or train on a folder with --data"
        ) from e
    return train, val, train.classes
