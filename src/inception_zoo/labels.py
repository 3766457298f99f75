"""Class names of the label sets that published weights use."""

from __future__ import annotations

from torchvision.models import GoogLeNet_Weights

__all__ = ["label_names"]


def label_names(label_set: str, num_classes: int) -> list[str] | None:
    """Names of a label set's classes, or ``None`` where the set publishes none (face identities).

    ImageNet-1k's come from torchvision, which ships them with its weights.
    """
    if label_set == "imagenet-1k" and num_classes == 1000:
        return list(GoogLeNet_Weights.IMAGENET1K_V1.meta["categories"])
    return None
