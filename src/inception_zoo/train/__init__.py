"""Training: the papers' recipes, a resumable trainer, and DDP under torchrun."""

from .optim import TFRMSprop, build_optimizer
from .recipes import RECIPES, Recipe, lr_factor
from .trainer import Interrupted, TrainConfig, TrainingDiverged, TrainResult, train

__all__ = [
    "RECIPES",
    "Interrupted",
    "Recipe",
    "TFRMSprop",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "build_optimizer",
    "lr_factor",
    "train",
]
