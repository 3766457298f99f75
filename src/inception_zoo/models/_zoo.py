"""The whole family: every model file imported (so the registry is complete), and the facts
counted from the code.

``model_info`` adds the parameter and multiply-add counts, counted from the code itself on the
``meta`` device (no memory, no arithmetic), so that the numbers can never drift from the
network. ``model_table`` is the same facts as plain data; ``inception_zoo.catalog`` caches it
for the command line.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

# Importing a model file registers its networks.
from . import (  # noqa: F401
    bn_inception,
    googlenet,
    inception_next,
    inception_resnet_v1,
    inception_resnet_v2,
    inception_v2,
    inception_v3,
    inception_v4,
    xception,
    xception_aligned,
)
from ._features import find_feature_info
from ._metadata import ModelCard
from ._registry import registered, registered_names
from .cifar import register_cifar_profiles

register_cifar_profiles()  # the 32x32 profiles of the networks above

# ``registered`` here is the registry's lookup, complete: use it from this module.
__all__ = ["ModelInfo", "list_models", "model_info", "model_table", "registered"]


@dataclass(frozen=True)
class ModelInfo(ModelCard):
    """A ``ModelCard`` plus its name and what was read or counted from the code.

    ``params`` and ``gmacs`` are for the default build, ``create_model(name)``: 1000 classes (10
    for the ``_cifar`` profiles) and no side classifiers (``aux_logits=True`` adds the ``aux_heads``
    the network has), at ``input_size``; torchinfo, fvcore and Lightning count the same build.
    ``feature_info`` lists the feature maps of ``features_only=True`` and ``forward_intermediates``:
    the last layer at each stride, or the reference's where the network names them. ``layers``
    names the layers of ``model.features``, in order.
    """

    name: str = ""
    min_input_size: int = 0
    params: int = 0
    gmacs: float = 0.0
    aux_heads: int = 0
    feature_info: tuple[dict, ...] = ()
    layers: tuple[str, ...] = ()


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, sorted, optionally filtered by a glob such as ``"inception_v*"``."""
    names = registered_names()
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


@functools.cache
def model_info(name: str) -> ModelInfo:
    """Facts about a registered network: paper, preprocessing, sizes, and counted params and GMACs."""
    registration = registered(name)
    with torch.device("meta"):
        model = registration.build().eval()  # the default build: no side classifiers
        with_aux = registration.build(aux_logits=True) if registration.card.aux_loss_weight is not None else model
    with FlopCounterMode(display=False) as counter:
        feature_info = find_feature_info(model, registration.card.input_size, then_head=True)
    return ModelInfo(
        **vars(registration.card),
        name=name,
        min_input_size=model.min_input_size,
        params=sum(p.numel() for p in model.parameters()),
        gmacs=counter.get_total_flops() / 2e9,
        aux_heads=len(with_aux.aux_heads),
        feature_info=tuple(feature_info),
        layers=tuple(model.features._modules),
    )


def model_table(pattern: str | None = None) -> list[dict]:
    """One row per registered network: the facts of ``model_info`` as plain (JSON-ready) data."""
    return [dataclasses.asdict(model_info(name)) for name in list_models(pattern)]
