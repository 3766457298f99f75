"""The one model contract every network of the family follows.

A network is a named sequence of layers (``features``: its stem, then its modules), optional
side classifiers that read the output of named layers (``aux_heads``), and a classifier head
(``head``). Because the structure is the same everywhere, forward passes, input checks, aux
outputs, head resets and the small-input build are written here once.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from ..errors import ArgumentError
from ..layers import ClassifierHead
from ._metadata import HasMetadata

__all__ = ["InceptionNet", "TrainOutput", "keep_input_size", "refuse_side_classifier"]


def refuse_side_classifier(name: str, aux_logits: bool) -> None:
    """Networks drawn without side classifiers take ``aux_logits=False`` only."""
    if aux_logits:
        raise ArgumentError(f"{name} has no side classifier (its paper draws none); use aux_logits=False")


def keep_input_size(module: nn.Module) -> nn.Module:
    """``module`` with its downsampling removed (in place): convs at stride 1 with "same" padding,
    strided pools gone, and a patchify conv (kernel = stride, as InceptionNeXt's 4x4/4) a 3x3 one."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        if (kh, kw) == module.stride and kh % 2 == 0:  # patchify: no stride-1 "same" form
            return nn.Conv2d(module.in_channels, module.out_channels, 3, padding=1)
        module.stride, module.padding = (1, 1), (kh // 2, kw // 2)
    elif isinstance(module, nn.MaxPool2d | nn.AvgPool2d) and module.stride not in (1, (1, 1)):
        return nn.Identity()
    for name, child in list(module.named_children()):
        setattr(module, name, keep_input_size(child))
    return module


class TrainOutput(NamedTuple):
    """What ``forward_train`` returns: the logits, and the side classifiers' logits in network order."""

    logits: torch.Tensor
    aux: list[torch.Tensor]


class InceptionNet(HasMetadata, nn.Module):
    """Base class of every network in the family.

    ``model(x)`` returns logits in train and eval mode alike; ``model.forward_train(x)`` adds
    the side classifiers' logits. Preprocessing is not part of the model: it belongs to the
    weights (``model.metadata``, set by ``create_model``; see ``inception_zoo.model_info``).

    ``stem`` is the layers before the network's modules; ``small_input=True`` makes them keep
    the input's size (``keep_input_size``), which is how the 32x32 profiles are built.
    ``min_input_size`` is the smallest input the network so built accepts.
    """

    def __init__(
        self,
        *,
        stem: OrderedDict[str, nn.Module],
        blocks: OrderedDict[str, nn.Module],
        num_features: int,
        num_classes: int,
        in_chans: int,
        drop_rate: float,
        min_input_size: int,
        small_input: bool = False,
        aux_heads: dict[str, nn.Module] | None = None,
        head: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.num_features = num_features
        self.min_input_size = min_input_size
        self.stem_layers = tuple(stem)
        self.features = nn.Sequential(stem | blocks)
        unknown = set(aux_heads or {}) - set(self.features._modules)
        if unknown:
            raise ArgumentError(f"aux heads read layers that do not exist: {sorted(unknown)}")
        self.aux_heads = nn.ModuleDict(aux_heads or {})
        self.head = head if head is not None else ClassifierHead(num_features, num_classes, drop_rate)
        self._init_weights()
        # After initialising: a conv made here keeps torch's own init, so a seed gives the weights it always gave.
        if small_input:
            for name in self.stem_layers:
                self.features._modules[name] = keep_input_size(self.features._modules[name])

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ``ValueError`` that says what would be right, before the first layer sees ``x``."""
        if x.dim() != 4:
            raise ArgumentError(
                f"{self.name} expects a 4-D batch (N, {self.in_chans}, H, W), got a {x.dim()}-D tensor "
                f"of shape {tuple(x.shape)}; use x.unsqueeze(0) for a single image"
            )
        if x.shape[1] != self.in_chans:
            raise ArgumentError(
                f"{self.name} was built for {self.in_chans}-channel input, got {x.shape[1]} channels "
                f"(shape {tuple(x.shape)}); pass in_chans={x.shape[1]} to create_model to adapt it"
            )
        height, width = x.shape[-2], x.shape[-1]
        if height < self.min_input_size or width < self.min_input_size:
            size = self.min_input_size
            raise ArgumentError(f"{self.name} needs inputs of at least {size}x{size} pixels, got {height}x{width}")

    @property
    def has_aux(self) -> bool:
        return len(self.aux_heads) > 0

    def _run_features(self, x: torch.Tensor, with_aux: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        self.check_input(x)
        aux: list[torch.Tensor] = []
        for name, layer in self.features.named_children():
            x = layer(x)
            if with_aux and name in self.aux_heads:
                aux.append(self.aux_heads[name](x))
        return x, aux

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map, before pooling: ``(N, num_features, h, w)``."""
        return self._run_features(x, with_aux=False)[0]

    @property
    def head_hidden_size(self) -> int:
        """Width of ``forward_head(x, pre_logits=True)``: ``num_features`` unless the head has a hidden layer."""
        return self.head.hidden_features

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, dropout and classify a feature map; ``pre_logits=True`` stops before the last linear layer."""
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_train(self, x: torch.Tensor) -> TrainOutput:
        """Logits plus the side classifiers' logits (``aux``, in network order; empty without aux heads)."""
        features, aux = self._run_features(x, with_aux=True)
        return TrainOutput(self.forward_head(features), aux)

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier and the side classifiers' last layers for ``num_classes`` outputs
        (the metadata follows: its options say the new count, and the old class names go)."""
        if num_classes < 0:
            raise ArgumentError(f"num_classes must be >= 0, got {num_classes}")
        self.num_classes = num_classes
        self.head.reset(num_classes)
        for aux in self.aux_heads.values():
            aux.reset(num_classes)
        if self.metadata is not None:
            labels = self.labels if self.labels is not None and len(self.labels) == num_classes else None
            self._update_metadata(config=self.config | {"num_classes": num_classes}, labels=labels)
