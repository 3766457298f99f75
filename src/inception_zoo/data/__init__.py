"""Data: the transforms a network's weights need."""

from .transforms import Preprocessing, ReorderChannels, preprocessing_for, preprocessing_of, transforms_for

__all__ = ["Preprocessing", "ReorderChannels", "preprocessing_for", "preprocessing_of", "transforms_for"]
