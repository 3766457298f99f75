"""Data: the transforms a network's weights need, and the data sets the trainer reads.

A facade: names are imported on first use (see ``inception_zoo._lazy``).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "AUGMENTATIONS",
    "CROPS",
    "DATASETS",
    "Preprocessing",
    "ReorderChannels",
    "load_datasets",
    "preprocessing_for",
    "preprocessing_of",
    "transforms_for",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AUGMENTATIONS": ".options",
        "CROPS": ".options",
        "DATASETS": ".options",
        "Preprocessing": ".transforms",
        "ReorderChannels": ".transforms",
        "preprocessing_for": ".transforms",
        "preprocessing_of": ".transforms",
        "transforms_for": ".transforms",
        "load_datasets": ".datasets",
    },
)

if TYPE_CHECKING:
    from .datasets import load_datasets
    from .options import AUGMENTATIONS, CROPS, DATASETS
    from .transforms import Preprocessing, ReorderChannels, preprocessing_for, preprocessing_of, transforms_for
