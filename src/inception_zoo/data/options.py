"""The named choices of the data pipeline: plain names, light enough for the command line to read."""

from __future__ import annotations

__all__ = ["AUGMENTATIONS", "CROPS", "DATASETS"]

# The data sets known by name, and the augmentation each trains with by default.
DATASETS = {"cifar10": "cifar", "cifar100": "cifar", "digits": "none"}
# Training augmentations (data.transforms.transforms_for).
AUGMENTATIONS = ("inception", "cifar", "none")
# Evaluation crops per image: the weights' own single crop, and the papers' multi-crop protocols (evaluate.py).
CROPS = (1, 10, 12, 144)
