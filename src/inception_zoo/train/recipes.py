"""The papers' training recipes, each with its source, and a modern default.

A recipe holds what a paper (or the script released with its checkpoints) states: optimizer,
learning-rate schedule, label smoothing, side-classifier weight, gradient clipping, averaging
of the weights. What a paper leaves open is marked in ``notes`` and filled from the
TF-slim script that trained the released weights, or left at the library default.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..errors import ArgumentError

__all__ = ["RECIPES", "Recipe", "lr_factor"]


@dataclass(frozen=True)
class Recipe:
    name: str
    source: str
    optimizer: str  # "sgd", "rmsprop_tf" (TensorFlow's RMSProp, as the papers used), "adamw"
    lr: float
    momentum: float = 0.9
    weight_decay: float = 0.0  # on conv and linear weights only, as TF-slim and timm apply it
    rmsprop_decay: float = 0.9
    eps: float = 1e-8
    schedule: str = "cosine"  # "step": lr * decay_rate every decay_epochs; "cosine": to zero
    decay_rate: float = 1.0
    decay_epochs: float = 1.0
    warmup_fraction: float = 0.0  # of all steps, linear from zero
    label_smoothing: float = 0.0
    aux_weight: float | None = None  # None: the network's own (model_info(name).aux_loss_weight)
    grad_clip: float | None = None  # max global L2 norm
    ema_decay: float | None = None  # "a running average of the parameters" for evaluation
    drop_rate: float | None = None  # dropout before the classifier; None: the network's own default
    notes: str = ""


_INCEPTION_V3 = Recipe(
    name="inception_v3",
    source="Szegedy et al. 2015, 'Rethinking the Inception Architecture', section 8",
    optimizer="rmsprop_tf",
    lr=0.045,
    momentum=0.9,
    weight_decay=4e-5,
    rmsprop_decay=0.9,
    eps=1.0,
    schedule="step",
    decay_rate=0.94,
    decay_epochs=2,
    label_smoothing=0.1,
    aux_weight=0.4,
    grad_clip=2.0,
    ema_decay=0.9999,
    notes="RMSProp decay 0.9, eps 1.0, lr 0.045 x0.94 every 2 epochs, clipping 2.0, label smoothing 0.1 "
    "and averaged parameters are the paper's; momentum 0.9, weight decay 4e-5 and aux weight 0.4 are "
    "TF-slim's train_image_classifier.py",
)

# The Inception-v4 paper's section 4 repeats v3's optimizer and schedule, and says nothing of label
# smoothing or clipping.
_INCEPTION_V4 = dataclasses.replace(
    _INCEPTION_V3,
    name="inception_v4",
    source="Szegedy et al. 2016, 'Inception-v4, Inception-ResNet and the Impact of Residual Connections', section 4",
    label_smoothing=0.0,
    grad_clip=None,
    notes="for Inception-v4 and both Inception-ResNets; the paper gives RMSProp decay 0.9, eps 1.0, "
    "lr 0.045 x0.94 every 2 epochs and a running average; momentum, weight decay and aux weight are TF-slim's",
)

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in [
        Recipe(
            name="default",
            source="inception-zoo: AdamW, linear warmup then cosine, label smoothing",
            optimizer="adamw",
            lr=1e-3,
            weight_decay=0.05,
            warmup_fraction=0.05,
            label_smoothing=0.1,
            notes="not from a paper: a robust start for fine-tuning and small data sets",
        ),
        Recipe(
            name="googlenet",
            source="Szegedy et al. 2014, 'Going deeper with convolutions', section 6",
            optimizer="sgd",
            lr=0.01,
            momentum=0.9,
            weight_decay=2e-4,
            schedule="step",
            decay_rate=0.96,
            decay_epochs=8,
            aux_weight=0.3,
            ema_decay=0.9999,
            notes="the paper gives momentum 0.9, -4% every 8 epochs, aux weight 0.3 and Polyak averaging; "
            "its base lr and weight decay are not stated (0.01 and 2e-4 are Caffe's bvlc_googlenet solver)",
        ),
        _INCEPTION_V3,
        _INCEPTION_V4,
        Recipe(
            name="xception",
            source="Chollet 2017, 'Xception: Deep Learning with Depthwise Separable Convolutions', section 4.3",
            optimizer="sgd",
            lr=0.045,
            momentum=0.9,
            weight_decay=1e-5,
            schedule="step",
            decay_rate=0.94,
            decay_epochs=2,
            ema_decay=0.9999,
            drop_rate=0.5,
            notes="ImageNet setting: SGD momentum 0.9, lr 0.045 x0.94 every 2 epochs, weight decay 1e-5, "
            "dropout 0.5 before the classifier, Polyak averaging; no side classifier",
        ),
        Recipe(
            name="inception_next",
            source="Yu et al. 2024, 'InceptionNeXt: When Inception Meets ConvNeXt', appendix (official training "
            "script)",
            optimizer="adamw",
            lr=4e-3,
            weight_decay=0.05,
            warmup_fraction=20 / 300,
            label_smoothing=0.1,
            notes="AdamW lr 4e-3 for a batch of 4096, 20 warmup epochs of 300, cosine, weight decay 0.05, label "
            "smoothing 0.1; RandAugment, mixup, cutmix and random erasing are not applied here",
        ),
    ]
}


def lr_factor(recipe: Recipe, step: int, steps_per_epoch: int, total_steps: int) -> float:
    """The multiplier of the base learning rate after ``step`` optimizer steps."""
    warmup = round(recipe.warmup_fraction * total_steps)
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if recipe.schedule == "step":
        return recipe.decay_rate ** math.floor(step / steps_per_epoch / recipe.decay_epochs)
    if recipe.schedule == "cosine":
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    raise ArgumentError(f"unknown schedule {recipe.schedule!r}: use 'step' or 'cosine'")
