"""What a network looks like: its stages' output shapes and its table row.

Shapes come from a forward pass on the ``meta`` device, so they cost no memory and no
arithmetic, at any input size.
"""

from __future__ import annotations

import dataclasses

import torch

from .models import create_model, list_models, model_info

__all__ = ["model_table", "stage_shapes"]


def stage_shapes(name: str, *, image_size: int | None = None) -> list[tuple[str, tuple[int, ...]]]:
    """Output shape of every layer of ``features`` and of every side classifier, in network order.

    Example:
        >>> stage_shapes("inception_v3")[-1]
        ('Mixed_7c', (1, 2048, 8, 8))
    """
    info = model_info(name)
    height = width = image_size or info.input_size[-1]
    with torch.device("meta"):
        model = create_model(name).eval()
        x = torch.empty(1, info.input_size[0], height, width)
    shapes: list[tuple[str, tuple[int, ...]]] = []
    for layer_name, layer in model.features.named_children():
        x = layer(x)
        shapes.append((layer_name, tuple(x.shape)))
        if layer_name in model.aux_heads:
            shapes.append((f"aux_heads.{layer_name}", tuple(model.aux_heads[layer_name](x).shape)))
    shapes.append(("head", tuple(model.forward_head(x).shape)))
    return shapes


def model_table(pattern: str | None = None) -> list[dict]:
    """One row per registered network: the facts of ``model_info`` as plain data."""
    rows = []
    for name in list_models(pattern):
        info = model_info(name)
        row = dataclasses.asdict(info)
        row["paper"] = {"title": info.paper.title, "arxiv": info.paper.arxiv}
        rows.append(row)
    return rows
