"""What a network looks like: its stages' output shapes.

Shapes come from a forward pass on the ``meta`` device, so they cost no memory and no
arithmetic, at any input size.
"""

from __future__ import annotations

import torch

from .models._zoo import registered

__all__ = ["stage_shapes"]


def stage_shapes(name: str, *, image_size: int | None = None) -> list[tuple[str, tuple[int, ...]]]:
    """Output shape of every layer of ``features`` and of every side classifier, in network order.

    Example:
        >>> stage_shapes("inception_v3")[-1]
        ('head', (1, 1000))
    """
    registration = registered(name)
    channels, height, width = registration.card.input_size
    if image_size is not None:
        height = width = image_size
    with_aux = {"aux_logits": True} if registration.card.aux_loss_weight is not None else {}
    with torch.device("meta"):
        model = registration.build(**with_aux).eval()
        x = torch.empty(1, channels, height, width)
    model.check_input(x)  # a clear message for a size the network cannot take
    shapes: list[tuple[str, tuple[int, ...]]] = []
    for layer_name, layer in model.features.named_children():
        x = layer(x)
        shapes.append((layer_name, tuple(x.shape)))
        if layer_name in model.aux_heads:
            shapes.append((f"aux_heads.{layer_name}", tuple(model.aux_heads[layer_name](x).shape)))
    shapes.append(("head", tuple(model.forward_head(x).shape)))
    return shapes
