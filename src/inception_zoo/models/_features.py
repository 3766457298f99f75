"""Feature pyramids for every network, derived from the structure rather than declared per model.

A network's ``features`` is a named sequence of layers. Walking it once (on the ``meta``
device) gives each layer's channels and stride; the last layer at each stride is that
stride's feature map. timm's convention: ``feature_info`` is a list of
``dict(num_chs=..., reduction=..., module=...)``.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from ..errors import ArgumentError
from ._metadata import HasMetadata

__all__ = ["FeatureExtractor", "find_feature_info"]


def find_feature_info(model: nn.Module, input_size: tuple[int, int, int], then_head: bool = False) -> list[dict]:
    """The last layer of ``model.features`` at each stride, with its channels; ``model`` on ``meta``.

    ``then_head`` finishes the forward pass through the head, so that one pass can also be
    counted (``model_info`` counts multiply-adds around it).
    """
    x = torch.empty(1, *input_size, device="meta")
    taps: dict[int, dict] = {}
    for name, layer in model.features.named_children():
        x = layer(x)
        reduction = 2 ** round(math.log2(input_size[-1] / x.shape[-1]))
        taps[reduction] = dict(num_chs=x.shape[1], reduction=reduction, module=name)
    if then_head:
        model.forward_head(x)
    return list(taps.values())


class FeatureExtractor(HasMetadata, nn.Module):
    """A network cut after its last wanted feature map; ``forward`` returns the maps, shallow to deep.

    Shares the network's layers (and so its weights and state-dict keys under ``features.``) and
    its ``metadata``; ``feature_info`` lists the maps it returns.
    """

    def __init__(self, model: nn.Module, feature_info: list[dict], out_indices: tuple[int, ...] | None = None):
        super().__init__()
        out_indices = tuple(range(len(feature_info))) if out_indices is None else tuple(out_indices)
        bad = [i for i in out_indices if not -len(feature_info) <= i < len(feature_info)]
        if bad or not out_indices:
            raise ArgumentError(
                f"out_indices {out_indices} do not fit {model.name}'s {len(feature_info)} feature levels "
                f"(strides {[f['reduction'] for f in feature_info]}); use indices 0..{len(feature_info) - 1}"
            )
        self.metadata = model.metadata
        self._feature_info = [feature_info[i] for i in sorted({i % len(feature_info) for i in out_indices})]
        self._taps = {f["module"] for f in self._feature_info}
        layers = OrderedDict()
        for name, layer in model.features.named_children():
            layers[name] = layer
            if name == self._feature_info[-1]["module"]:
                break
        self.features = nn.Sequential(layers)
        self.in_chans, self.min_input_size = model.in_chans, model.min_input_size
        self._check_input = model.check_input

    @property
    def feature_info(self) -> list[dict]:
        """The maps ``forward`` returns: ``dict(num_chs=..., reduction=..., module=...)`` each."""
        return list(self._feature_info)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        self._check_input(x)
        maps = []
        for name, layer in self.features.named_children():
            x = layer(x)
            if name in self._taps:
                maps.append(x)
        return maps
