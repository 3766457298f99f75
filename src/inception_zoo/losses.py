"""The training loss of networks with side classifiers."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .models._base import TrainOutput

__all__ = ["inception_loss"]


def inception_loss(
    output: TrainOutput | torch.Tensor,
    target: torch.Tensor,
    *,
    aux_weight: float,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy of the main logits plus ``aux_weight`` times that of each side classifier.

    The papers' weights are in ``model_info(name).aux_loss_weight``: 0.3 for GoogLeNet (its
    paper), 0.4 for Inception-v3 (TF-slim's training script; the paper gives none).

    Example:
        >>> out = model.forward_train(images)
        >>> loss = inception_loss(out, labels, aux_weight=model_info("inception_v3").aux_loss_weight)
    """
    if isinstance(output, torch.Tensor):
        output = TrainOutput(output, [])
    loss = F.cross_entropy(output.logits, target, label_smoothing=label_smoothing)
    for aux in output.aux:
        loss = loss + aux_weight * F.cross_entropy(aux, target, label_smoothing=label_smoothing)
    return loss
