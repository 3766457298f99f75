"""The one model contract every network of the family follows.

A network is a named sequence of layers (``features``: its stem, then its modules), optional
side classifiers that read the output of named layers (``aux_heads``), and a classifier head
(``head``). Because the structure is the same everywhere, forward passes, input checks, aux
outputs, head resets and the small-input build are written here once.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..errors import ArgumentError
from ..layers import ClassifierHead
from ._metadata import HasMetadata, pretrained_cfg

__all__ = ["InceptionNet", "TrainForward", "TrainOutput", "check_batch", "keep_input_size", "refuse_side_classifier"]


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


def check_batch(x: torch.Tensor, in_chans: int, min_size: int, name: str) -> None:
    """The input checks of every network; a leaf for torch.fx (``fx.wrap``), so that symbolic tracing
    (torchvision's feature extraction) records a call to it instead of branching on a shape it does not know."""
    if x.dim() != 4:
        raise ArgumentError(
            f"{name} expects a 4-D batch (N, {in_chans}, H, W), got a {x.dim()}-D tensor "
            f"of shape {tuple(x.shape)}; use x.unsqueeze(0) for a single image"
        )
    if x.shape[1] != in_chans:
        raise ArgumentError(
            f"{name} was built for {in_chans}-channel input, got {x.shape[1]} channels "
            f"(shape {tuple(x.shape)}); pass in_chans={x.shape[1]} to create_model to adapt it"
        )
    height, width = x.shape[-2], x.shape[-1]
    if height < min_size or width < min_size:
        raise ArgumentError(f"{name} needs inputs of at least {min_size}x{min_size} pixels, got {height}x{width}")


torch.fx.wrap("check_batch")


class InceptionNet(HasMetadata, nn.Module):
    """Base class of every network in the family.

    ``model(x)`` returns logits in train and eval mode alike; ``model.forward_train(x)`` adds the
    side classifiers' logits, for networks built with them (``aux_logits=True``; the default build
    has none, so a plain training loop, DDP's included, uses every parameter). ``TrainForward(model)``
    is a module whose forward is ``forward_train``: what DDP wraps to train the side classifiers.
    Preprocessing is not part of the model: it belongs to the weights (``model.metadata``, set by
    ``create_model``; see ``inception_zoo.model_info``).

    ``stem`` is the layers before the network's modules; ``small_input=True`` makes them keep
    the input's size (``keep_input_size``), which is how the 32x32 profiles are built.
    ``min_input_size`` is the smallest input the network so built accepts. ``feature_layers``
    names the feature maps of ``features_only`` and ``forward_intermediates`` where a reference
    chose them (else the last layer at each stride).

    timm's model interface, with timm's meanings: ``forward_intermediates``,
    ``prune_intermediate_layers``, ``set_grad_checkpointing``, ``group_matcher``,
    ``no_weight_decay``, ``reset_classifier(num_classes, global_pool)``, ``feature_info``
    (``channels()``, ``reduction()``, ``module_name()``), ``pretrained_cfg``.
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
        feature_layers: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.num_features = num_features
        self.min_input_size = min_input_size
        self.stem_layers = tuple(stem)
        self.feature_layers = feature_layers
        self.grad_checkpointing = False
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
        """Raise an ``ArgumentError`` that says what would be right, before the first layer sees ``x``."""
        check_batch(x, self.in_chans, self.min_input_size, self.name)

    @property
    def has_aux(self) -> bool:
        return len(self.aux_heads) > 0

    # -- forward passes ----------------------------------------------------------------------------

    def _layer(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint(layer, x, use_reentrant=False, context_fn=partial(_without_stat_updates, layer))
        return layer(x)

    def _run_features(self, x: torch.Tensor, with_aux: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        self.check_input(x)
        aux: list[torch.Tensor] = []
        for name, layer in self.features.named_children():
            x = self._layer(layer, x)
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

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | Sequence[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """timm's: the maps of ``feature_info`` (``indices``: the last n if an int, these if a sequence, all
        if None), and the final feature map unless ``intermediates_only``. ``stop_early`` stops at the last
        map wanted; ``norm`` has nothing to normalise in these networks."""
        if output_fmt != "NCHW":
            raise ArgumentError(f"output_fmt must be 'NCHW', got {output_fmt!r}")
        taps = self._feature_layer_names()
        take, last = take_indices(len(taps), indices)
        wanted = {taps[i] for i in take}
        self.check_input(x)
        intermediates = []
        for name, layer in self.features.named_children():
            x = self._layer(layer, x)
            if name in wanted:
                intermediates.append(x)
            if stop_early and name == taps[last]:
                break
        return intermediates if intermediates_only else (x, intermediates)

    # -- timm's model interface --------------------------------------------------------------------

    def _feature_layer_names(self) -> list[str]:
        if not self.feature_info:
            raise ArgumentError(f"{self.name} was not built by create_model: it has no feature_info")
        return [info["module"].removeprefix("features.") for info in self.feature_info]

    def prune_intermediate_layers(
        self, indices: int | Sequence[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """timm's: drop the layers after the last map of ``indices`` (and the classifier, when asked or when
        layers went); returns the indices to give ``forward_intermediates``."""
        taps = self._feature_layer_names()
        take, last = take_indices(len(taps), indices)
        names = list(self.features._modules)
        kept = names[: names.index(taps[last]) + 1]
        prune_end = len(kept) < len(names)
        self.features = nn.Sequential(OrderedDict((name, self.features._modules[name]) for name in kept))
        self.aux_heads = nn.ModuleDict({k: v for k, v in self.aux_heads.items() if k in kept})
        if prune_end:
            self.num_features = self.feature_info[last]["num_chs"]
            self._update_metadata(feature_info=tuple(self.feature_info[: last + 1]))
        if prune_head or prune_end:
            self.reset_classifier(0, "" if isinstance(self.head, ClassifierHead) else "avg", reset_other=True)
        return take

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """In training, recompute each layer's activations in the backward pass instead of keeping them:
        the same gradients for less memory (BatchNorm's running statistics are updated once, as without)."""
        self.grad_checkpointing = enable

    def group_matcher(self, coarse: bool = False) -> Callable[[str], tuple[float, ...]]:
        """timm's parameter grouping (layer-wise lr decay): the stem first, then each layer of ``features``
        in order (``coarse``: each stage, up to a feature map); the heads last."""
        names = list(self.features._modules)
        stem = set(self.stem_layers)
        taps = [names.index(t) for t in self._feature_layer_names() if t in names] if coarse else []

        def group(parameter: str) -> tuple[float, ...]:
            parts = parameter.split(".")
            if parts[0] != "features" or parts[1] not in names:
                return (float("inf"),)
            index = names.index(parts[1])
            if parts[1] in stem:
                return (0.0,)
            return (float(1 + sum(t < index for t in taps) if coarse else index),)

        return group

    def no_weight_decay(self) -> set[str]:
        """timm's: parameters that weight decay must skip beyond the 1-D ones it skips anyway; none here."""
        return set()

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None, reset_other: bool = False) -> None:
        """Replace the classifier and the side classifiers' last layers for ``num_classes`` outputs; timm's
        ``global_pool`` ("avg", "max", or "" for none, with no classes: the feature map itself) and
        ``reset_other`` (drop a hidden head layer). The metadata follows: its options say the new count,
        and the old class names go."""
        if num_classes < 0:
            raise ArgumentError(f"num_classes must be >= 0, got {num_classes}")
        self.head.reset(num_classes, global_pool, reset_other=reset_other, in_features=self.num_features)
        self.num_classes = num_classes
        for aux in self.aux_heads.values():
            aux.reset(num_classes)
        if self.metadata is not None:
            labels = self.labels if self.labels is not None and len(self.labels) == num_classes else None
            self._update_metadata(config=self.config | {"num_classes": num_classes}, labels=labels)

    @property
    def pretrained_cfg(self) -> dict:
        """timm's description of the weights (``timm.data.resolve_data_config`` reads it), from our metadata."""
        first_conv = next(name for name, m in self.named_modules() if isinstance(m, nn.Conv2d))
        return pretrained_cfg(self, first_conv=first_conv, classifier="head.fc")

    default_cfg = pretrained_cfg


class TrainForward(nn.Module):
    """A module whose ``forward`` is the network's ``forward_train``: what DDP (whose own forward must run
    for its gradients to be reduced) or torch.compile wraps to train the side classifiers too.

    Example:
        >>> ddp = DistributedDataParallel(TrainForward(create_model("googlenet", aux_logits=True)))
        >>> loss = inception_loss(ddp(images), labels, aux_weight=0.3)
    """

    def __init__(self, model: InceptionNet):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> TrainOutput:
        return self.model.forward_train(images)


def take_indices(count: int, indices: int | Sequence[int] | None) -> tuple[list[int], int]:
    """timm's ``feature_take_indices``: the last ``indices`` of ``count`` if an int, those given (negative from
    the end) if a sequence, all if None; and the largest."""
    if indices is None:
        indices = count
    if isinstance(indices, int):
        if not 0 < indices <= count:
            raise ArgumentError(f"the last {indices} of {count} feature maps: use 1 to {count}")
        taken = list(range(count - indices, count))
    else:
        taken = [count + i if i < 0 else i for i in indices]
        bad = [i for i in indices if not -count <= i < count]
        if bad or not taken:
            raise ArgumentError(f"feature indices {list(indices)} do not fit {count} maps: use 0 to {count - 1}")
    return taken, max(taken)


@contextlib.contextmanager
def _stats_kept(norms: list[nn.Module]):
    """BatchNorm in training that leaves its running statistics as they were (for a recomputed forward)."""
    saved = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved, strict=True):
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


def _without_stat_updates(layer: nn.Module):
    """Checkpointing's contexts: the first forward as usual, the recomputation without updating BatchNorm's
    running statistics a second time."""
    norms = [m for m in layer.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    return contextlib.nullcontext(), _stats_kept(norms)
