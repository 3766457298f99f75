"""Training: the papers' recipes, a resumable trainer, and DDP under torchrun.

A facade: names are imported on first use (see ``inception_zoo._lazy``). ``config`` and
``recipes`` are plain data; ``loop`` is the trainer, with ``checkpoint`` (save, restore, random
states) and ``distributed`` (the run's processes) beside it; ``optim`` and ``report``.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "RECIPES": ".recipes",
        "Recipe": ".recipes",
        "lr_factor": ".recipes",
        "TrainConfig": ".config",
        "TFRMSprop": ".optim",
        "build_optimizer": ".optim",
        "Interrupted": ".loop",
        "TrainResult": ".loop",
        "train": ".loop",
        "TrainingDiverged": "..errors",
    },
)

if TYPE_CHECKING:
    from ..errors import TrainingDiverged
    from .config import TrainConfig
    from .loop import Interrupted, TrainResult, train
    from .optim import TFRMSprop, build_optimizer
    from .recipes import RECIPES, Recipe, lr_factor
