"""Evaluation: top-1, top-5, loss, per-class accuracy and the confusion matrix, with the papers' multi-crop protocols.

A multi-crop evaluation averages the softmax over the crops of each image; its loss is the
negative log of that averaged probability. The crops, for a network evaluated at ``S`` with
the weights' resize ``R`` (e.g. S = 299, R = 342):

- ``1``: resize the short side to R, center crop S (the weights' own protocol).
- ``10``: resize to R; the four corner crops and the center crop, and their mirrors.
- ``12``: those 10, plus the whole image squashed to S x S and its mirror. The Inception-v4
  paper (Table 3) and Rethinking (Table 4) report "12 crops" without defining them; this
  is our reading (10-crop plus the full view), stated as such.
- ``144``: GoogLeNet's (section 7): the short side resized to 4 scales (256, 288, 320, 352
  for S = 224, scaled with S), 3 squares along the long side (left, center, right or top,
  middle, bottom), of each square the 4 corners, the center and the square resized to S,
  and the mirrors of all: 4 x 3 x 6 x 2.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from .data.datasets import ImageFolder, Transformed, collate_skipping
from .data.options import CROPS
from .data.transforms import INTERPOLATION_MODES, Preprocessing, preprocessing_of, to_normalized_tensor, transforms_for
from .errors import ArgumentError

__all__ = ["CROPS", "EvalResult", "MultiCrop", "Tally", "eval_transform", "evaluate"]
_GOOGLENET_SCALES = (256, 288, 320, 352)  # for a 224 crop


class MultiCrop(nn.Module):
    """PIL image -> tensor (crops, C, S, S) for the 10-, 12- and 144-crop protocols."""

    def __init__(self, pre: Preprocessing, crops: int):
        super().__init__()
        if crops not in CROPS[1:]:
            raise ArgumentError(f"multi-crop takes {', '.join(map(str, CROPS[1:]))} crops, got {crops}")
        self.crops, self.size, self.resize = crops, pre.input_size[-1], pre.resize_size
        self.interpolation = INTERPOLATION_MODES[pre.interpolation]
        self.finish = v2.Compose(to_normalized_tensor(pre))

    def views(self, image) -> list:
        """The crops as images, before normalisation."""
        size, interp = self.size, self.interpolation
        if self.crops in (10, 12):
            views = list(TF.ten_crop(TF.resize(image, self.resize, interpolation=interp, antialias=True), size))
            if self.crops == 12:
                whole = TF.resize(image, [size, size], interpolation=interp, antialias=True)
                views += [whole, TF.horizontal_flip(whole)]
            return views
        views = []
        for scale in _GOOGLENET_SCALES:
            resized = TF.resize(image, round(scale * size / 224), interpolation=interp, antialias=True)
            height, width = TF.get_size(resized)
            side = min(height, width)
            for offset in (0, (max(height, width) - side) // 2, max(height, width) - side):
                top, left = (offset, 0) if height > width else (0, offset)
                square = TF.crop(resized, top, left, side, side)
                six = [
                    *TF.five_crop(square, size),
                    TF.resize(square, [size, size], interpolation=interp, antialias=True),
                ]
                views += six + [TF.horizontal_flip(v) for v in six]
        return views

    def forward(self, image) -> torch.Tensor:
        return torch.stack([self.finish(view) for view in self.views(image)])


def eval_transform(model_or_pre: nn.Module | str | Preprocessing, crops: int = 1):
    """The evaluation transform for ``crops`` crops (see the module's docstring)."""
    if crops == 1:
        return transforms_for(model_or_pre)
    return MultiCrop(preprocessing_of(model_or_pre), crops)


@dataclass
class Tally:
    """Running sums of an evaluation; ``all_reduce`` merges the shards of a distributed one."""

    num_classes: int
    loss: torch.Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.float64))
    top1: torch.Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.int64))
    top5: torch.Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.int64))
    confusion: torch.Tensor = None  # rows: true class, columns: predicted class

    def __post_init__(self):
        if self.confusion is None:
            self.confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)

    def add(self, logits: torch.Tensor, targets: torch.Tensor, crops: int = 1) -> None:
        """Logits of shape (batch * crops, classes), grouped by image."""
        logits, targets = logits.detach().float().cpu(), targets.cpu()
        if crops == 1:
            log_probs = F.log_softmax(logits, dim=1)
        else:
            log_probs = logits.softmax(dim=1).view(-1, crops, logits.shape[1]).mean(dim=1).log()
        self.loss += F.nll_loss(log_probs, targets, reduction="sum").double()
        top = log_probs.topk(min(5, self.num_classes), dim=1).indices
        self.top1 += (top[:, 0] == targets).sum()
        self.top5 += (top == targets[:, None]).any(dim=1).sum()
        self.confusion += torch.bincount(targets * self.num_classes + top[:, 0], minlength=self.num_classes**2).view(
            self.num_classes, self.num_classes
        )

    def all_reduce(self) -> None:
        for tensor in (self.loss, self.top1, self.top5, self.confusion):
            dist.all_reduce(tensor)

    def result(self) -> EvalResult:
        count = int(self.confusion.sum())
        if count == 0:
            raise ArgumentError("nothing was evaluated: the data set is empty or no image could be read")
        per_class_total = self.confusion.sum(dim=1)
        return EvalResult(
            top1=100 * int(self.top1) / count,
            top5=100 * int(self.top5) / count,
            loss=float(self.loss) / count,
            count=count,
            per_class=[100 * int(self.confusion[c, c]) / int(n) if n else None for c, n in enumerate(per_class_total)],
            confusion=self.confusion.tolist(),
        )


@dataclass
class EvalResult:
    """Accuracies in percent; ``per_class[c]`` is None for a class with no images."""

    top1: float
    top5: float
    loss: float
    count: int
    per_class: list[float | None]
    confusion: list[list[int]]
    unreadable: list[str] = field(default_factory=list)


@torch.inference_mode()
def evaluate_batches(model: nn.Module, batches, tally: Tally, *, device: torch.device, crops: int = 1, autocast=None):
    """Add ``(images, targets, unreadable)`` batches to ``tally``; returns the names of unreadable images."""
    unreadable = []
    for images, targets, skipped in batches:
        unreadable += [u.path for u in skipped]
        if images is None:
            continue
        images = images.to(device, non_blocking=True)
        if crops > 1:
            images = images.flatten(0, 1)
        with autocast or contextlib.nullcontext():
            logits = model(images)
        tally.add(logits, targets, crops)
    return unreadable


def evaluate(
    model: nn.Module,
    data,
    *,
    crops: int = 1,
    batch_size: int = 32,
    workers: int = 0,
    device: str | torch.device | None = None,
) -> EvalResult:
    """Evaluate ``model`` on an image folder (``DIR/<class>/<image>``, or ``DIR/val/...``) or a data set.

    The images go through the model's own preprocessing (its weights'), with ``crops`` crops
    each. A data set given directly must yield ``(image, target)`` with PIL images.

    Example:
        >>> result = evaluate(load_model("run/model.safetensors"), "data/val", crops=10)
        >>> print(result.top1, result.top5)
    """
    if crops not in CROPS:
        raise ArgumentError(f"crops must be one of {', '.join(map(str, CROPS))}, got {crops}")
    transform = eval_transform(model, crops)
    if isinstance(data, (str, Path)):
        root = Path(data)
        if (root / "val").is_dir():
            root = root / "val"
        data = ImageFolder(root, transform=transform, allow_empty=True)  # a class may have no images
    else:
        data = Transformed(data, transform)
    num_classes = getattr(model, "num_classes", None) or len(data.classes)
    classes = list(getattr(data, "classes", []))
    if classes and len(classes) != num_classes:  # ImageFolder numbers the sorted class folders from 0
        raise ArgumentError(
            f"the data has {len(classes)} class folders but the model has {num_classes} classes: "
            "evaluate on a folder with one subfolder per class of the model, in the model's order"
        )
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.eval().to(device)
    batch_size = max(1, batch_size // crops) if crops > 1 else batch_size
    loader = DataLoader(data, batch_size=batch_size, num_workers=workers, collate_fn=collate_skipping)
    tally = Tally(num_classes)
    unreadable = evaluate_batches(model, loader, tally, device=device, crops=crops)
    result = tally.result()
    result.unreadable = unreadable
    return result
