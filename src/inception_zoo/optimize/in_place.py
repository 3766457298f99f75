"""Elementwise steps that write into the tensor they read when nothing else reads it: on the CPU the
page faults of a fresh output buffer can cost more than the arithmetic."""

from __future__ import annotations

import torch
from torch import nn

from ..layers import ConvMlp, Residual

__all__ = ["elementwise_in_place"]


class _InPlaceGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten.gelu_(x)


class _InPlaceResidual(nn.Module):
    """``Residual``, adding the shortcut into the body's output (which is fresh unless it is ``x``)."""

    def __init__(self, residual: Residual):
        super().__init__()
        self.body, self.shortcut = residual.body, residual.shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        shortcut = x if self.shortcut is None else self.shortcut(x)
        if out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
            return out + shortcut
        return out.add_(shortcut)


def elementwise_in_place(model: nn.Module) -> None:
    """Residual additions into the body's output; the GELU between an MLP's two convs over the first
    conv's output (nothing else reads either)."""
    for parent in list(model.modules()):
        if isinstance(parent, ConvMlp) and type(parent.act) is nn.GELU and parent.act.approximate == "none":
            parent.act = _InPlaceGELU()
        for name, child in list(parent.named_children()):
            if isinstance(child, Residual):
                setattr(parent, name, _InPlaceResidual(child))
