"""``TrainConfig``: everything a run depends on, checked when it is made.

A run stores its config in ``last.pt``, so that a resume needs only that file. Each field's
``help`` (and ``choices``) is also its ``inception-zoo train`` option's: the command line's
options are made from these fields, so the two cannot drift apart. Plain data, no torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..catalog import model_names
from ..data.options import AUGMENTATIONS, DATASETS
from ..errors import ArgumentError
from .recipes import RECIPES

__all__ = ["AMP_DTYPES", "TrainConfig"]

AMP_DTYPES = ("bf16", "fp16")


def _option(default: Any, help: str, **cli: Any) -> Any:
    """A field with its command-line help; ``cli`` may add ``choices``, ``const`` (a flag that takes an
    optional value) or ``group`` (options of one group exclude each other)."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; stored in ``last.pt`` so that a resume needs only the file."""

    model: str | None = _option(None, "a network from 'inception-zoo list'")
    data: str | None = _option(None, "a folder with train/<class>/<image> and val/<class>/<image>", group="data")
    dataset: str | None = _option(None, "a named data set", choices=tuple(DATASETS), group="data")
    output: str | None = _option(None, "the run's folder (default: runs/<model>)")
    epochs: int | None = _option(None, "epochs to train (default: 10, or when resuming the stored run's)")
    batch_size: int = _option(32, "images per step, per process")
    lr: float | None = _option(None, "base learning rate (default: the recipe's)")
    recipe: str = _option("default", "a paper's training recipe ('inception-zoo recipes')", choices=tuple(RECIPES))
    img_size: int | None = _option(None, "training and validation size (default: the network's)")
    augment: str | None = _option(None, "training augmentation (default: by data set)", choices=AUGMENTATIONS)
    workers: int = _option(0, "data loading processes")
    seed: int = _option(0, "seeds every random draw of the run")
    weights: str | None = _option(
        None, "start from these weights (a tag or a file; a new classifier if classes differ)"
    )
    aux_logits: bool | None = _option(
        None, "train the side classifiers (default: those the network has, or with --weights those the file has)"
    )
    aux_weight: float | None = _option(None, "side-classifier loss weight (default: the recipe's, else the network's)")
    label_smoothing: float | None = _option(None, "label smoothing (default: the recipe's)")
    ema_decay: float | None = _option(None, "keep a running average of the weights (0: off; default: the recipe's)")
    amp: str | None = _option(None, "mixed precision (bf16; fp16 on a GPU only)", choices=AMP_DTYPES, const="bf16")
    freeze_bn: bool = _option(False, "keep BatchNorm's statistics and affine terms as loaded (fine-tuning)")
    channels_last: bool = _option(True, "channels_last memory format (1.05-1.3x faster steps on the CPU)")
    compile: bool = _option(False, "torch.compile the model")
    device: str | None = _option(None, "e.g. cpu or cuda:0 (default: this process's GPU, else the CPU)")
    resume: str | None = _option(None, "a last.pt to continue from (the run's other options come from it)")

    def __post_init__(self) -> None:
        if self.model is None and self.resume is None:
            raise ArgumentError("model is needed: the network to train (or resume, to continue a run)", option="model")
        if self.model is not None and self.model not in model_names():
            raise ArgumentError(f"unknown model {self.model!r}: see 'inception-zoo list'", option="model")
        if self.data is not None and self.dataset is not None:
            raise ArgumentError("data and dataset exclude each other: give one", option="data")
        for option in dataclasses.fields(self):
            value, choices = getattr(self, option.name), option.metadata.get("choices")
            if value is not None and choices is not None and value not in choices:
                message = f"unknown {option.name} {value!r}: use one of {', '.join(choices)}"
                raise ArgumentError(message, option=option.name)
        for name, low in (("epochs", 1), ("batch_size", 2), ("img_size", 1), ("workers", 0)):
            value = getattr(self, name)
            if value is not None and value < low:
                why = ": batch norm cannot train on one image per batch" if name == "batch_size" else ""
                raise ArgumentError(f"{name} must be >= {low}{why}, got {value}", option=name)
        if self.lr is not None and not self.lr > 0:
            raise ArgumentError(f"lr must be > 0, got {self.lr}", option="lr")
        if self.aux_weight is not None and not self.aux_weight >= 0:
            raise ArgumentError(f"aux_weight must be >= 0, got {self.aux_weight}", option="aux_weight")
        for name in ("label_smoothing", "ema_decay"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 1:
                raise ArgumentError(f"{name} must be in [0, 1), got {value}", option=name)
