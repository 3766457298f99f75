"""Feature pyramids for every network, derived from the structure rather than declared per model.

A network's ``features`` is a named sequence of layers. Walking it once (on the ``meta``
device) gives each layer's channels and stride; the last layer at each stride is that
stride's feature map, unless the network names its maps (``feature_layers``: where a reference
chose others). timm's convention: ``feature_info`` is a list of
``dict(num_chs=..., reduction=..., module=...)``, ``module`` the layer's path in the model.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from ..errors import ArgumentError
from ._metadata import FeatureInfo, HasMetadata

__all__ = ["FeatureExtractor", "find_feature_info"]


def find_feature_info(model: nn.Module, input_size: tuple[int, int, int], then_head: bool = False) -> list[dict]:
    """The last layer of ``model.features`` at each stride, with its channels; ``model`` on ``meta``.

    ``then_head`` finishes the forward pass through the head, so that one pass can also be
    counted (``model_info`` counts multiply-adds around it).
    """
    x = torch.empty(1, *input_size, device="meta")
    named = getattr(model, "feature_layers", None)
    taps: dict[object, dict] = {}
    for name, layer in model.features.named_children():
        x = layer(x)
        reduction = 2 ** round(math.log2(input_size[-1] / x.shape[-1]))
        if named is None or name in named:
            taps[name if named else reduction] = dict(
                num_chs=x.shape[1], reduction=reduction, module=f"features.{name}"
            )
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
        self._feature_info = FeatureInfo(feature_info[i] for i in sorted({i % len(feature_info) for i in out_indices}))
        self._taps = {f["module"].removeprefix("features.") for f in self._feature_info}
        layers = OrderedDict()
        for name, layer in model.features.named_children():
            layers[name] = layer
            if f"features.{name}" == self._feature_info[-1]["module"]:
                break
        self.features = nn.Sequential(layers)
        self.in_chans, self.min_input_size = model.in_chans, model.min_input_size
        self._check_input = model.check_input

    @property
    def feature_info(self) -> FeatureInfo:
        """The maps ``forward`` returns: ``dict(num_chs=..., reduction=..., module=...)`` each."""
        return FeatureInfo(self._feature_info)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        self._check_input(x)
        maps = []
        for name, layer in self.features.named_children():
            x = layer(x)
            if name in self._taps:
                maps.append(x)
        return maps
