"""``create_model``: the one way to build a network, with or without a checkpoint.

The one module that ties the networks (``_zoo``), the foreign checkpoint layouts
(``inception_zoo.convert``), downloads (``inception_zoo.hub``) and our own file format
(``inception_zoo.formats``) together.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..convert.checkpoint import load_checkpoint
from ..convert.layouts import NATIVE
from ..errors import ArgumentError
from ..formats import FORMAT, decode_metadata, read_metadata
from ..hub import HF_HUB, fetch, fetch_repo
from ..labels import label_names
from ._base import InceptionNet
from ._features import FeatureExtractor
from ._metadata import ModelCard, ModelMetadata, WeightEntry
from ._zoo import model_info, registered

__all__ = ["create_model", "resolve_weights"]


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    in_chans: int | None = None,
    weights: str | os.PathLike | bool | None = None,
    aux_logits: bool | None = None,
    drop_rate: float | None = None,
    features_only: bool = False,
    out_indices: tuple[int, ...] | None = None,
    require_trained_head: bool = False,
    **model_kwargs,
) -> InceptionNet | FeatureExtractor:
    """Build a registered network, optionally loading a checkpoint.

    Args:
        name: a name from ``list_models()``.
        num_classes: outputs of the classifier (0: the pooled features). ``None``: the
            network's default (1000; 10 for the ``_cifar`` profiles), or, with ``weights``, the file's.
        in_chans: input channels (``None``: 3, or the file's). With pretrained RGB weights, the
            first conv is adapted.
        weights: ``True`` for the network's default published weights, a weight tag from
            ``model_info(name).weight_tags`` (e.g. ``"timm:inception_v3.tv_in1k"``; downloaded
            once and checked against the hash its source publishes), a Hugging Face repository of
            ours or timm's (``"hf-hub:ORG/NAME[@REVISION]"``, likewise), or a checkpoint file: ours,
            or one saved from torchvision, timm, Cadene's pretrainedmodels or facenet-pytorch
            (``.pth``/``.pt`` or ``.safetensors``; the source is recognised from its keys). A
            different ``num_classes`` keeps the backbone and starts a new classifier, with a warning.
        aux_logits: build the side classifiers. ``None``: the network's default, or, with
            ``weights``, whatever the checkpoint has. Options that a checkpoint implies (its
            class count, its side heads, facenet's embedding head) fill in what is not given.
        drop_rate: dropout before the classifier; ``None`` keeps the network's default.
        features_only: return a ``FeatureExtractor`` whose forward gives one feature map per
            stride (``model.feature_info`` says which), instead of the classifier.
        out_indices: with ``features_only``, which of those maps (default: all).
        require_trained_head: with ``weights``, refuse (``ArgumentError``) instead of warning when the
            file cannot supply the classifier: what inference needs (predict, eval, serve, export).
        **model_kwargs: network-specific options (see the model's class), e.g. ``small_input=True``.

    The model carries what it is as ``model.metadata`` (its name, options, preprocessing,
    labels, provenance and feature maps; ``model.labels`` and ``model.preprocessing`` read it).

    Example:
        >>> model = create_model("inception_v3", num_classes=10, aux_logits=False)
        >>> model(torch.randn(2, 3, 299, 299)).shape
        torch.Size([2, 10])
    """
    registration = registered(name)
    if num_classes is not None and num_classes < 0:
        raise ArgumentError(f"num_classes must be >= 0, got {num_classes}")
    if in_chans is not None and in_chans < 1:
        raise ArgumentError(f"in_chans must be >= 1, got {in_chans}")
    if out_indices is not None and not features_only:
        raise ArgumentError("out_indices applies only with features_only=True")

    given = dict(num_classes=num_classes, in_chans=in_chans, aux_logits=aux_logits, drop_rate=drop_rate)
    options = {k: v for k, v in given.items() if v is not None} | model_kwargs
    info = model_info(name)
    checkpoint = entry = saved = None
    if weights is not None:
        path, entry = resolve_weights(registration.card, weights)
        checkpoint = load_checkpoint(path, name, info.layers)
        saved = _our_metadata(path, name) if checkpoint.source == NATIVE else None
        implied = saved.config if saved else checkpoint.model_kwargs  # our own file says exactly
        options = implied | options  # what the file needs; the caller's choices win

    model = registration.build(**options)
    model.metadata = ModelMetadata(
        name=name,
        config=options,
        preprocessing=registration.card.preprocessing_for(entry),
        labels=label_names(entry.labels if entry else "imagenet-1k", model.num_classes),
        provenance=_provenance(entry, weights, checkpoint),
        feature_info=info.feature_info,
    )
    if checkpoint is not None:
        checkpoint.load_into(model, require_trained_head=require_trained_head)
    if saved is not None:  # the preprocessing, labels and provenance it was saved with
        fits = saved.labels is not None and len(saved.labels) == model.num_classes  # not after a new head
        model.metadata = dataclasses.replace(
            model.metadata,
            preprocessing=saved.preprocessing,
            labels=saved.labels if fits else model.labels,
            provenance=saved.provenance,
        )
    if features_only:
        return FeatureExtractor(model, list(info.feature_info), out_indices)
    return model


def resolve_weights(card: ModelCard, weights: str | os.PathLike | bool) -> tuple[Path, WeightEntry | None]:
    """The local file for ``weights`` (downloading a tag's file if needed), and its entry if it is a tag."""
    if weights is False:
        raise ArgumentError("weights=False: pass None for no weights")
    if isinstance(weights, str) and weights.startswith(HF_HUB):
        repo = fetch_repo(weights)
        return repo.weights, repo.entry
    if _is_tag(card, weights):
        entry = card.weight_entry(weights)
        return fetch(entry), entry
    return Path(weights), None


def _is_tag(card: ModelCard, weights: object) -> bool:
    """``True``, or a string naming one of the network's weight entries (``"source:name"``)."""
    if weights is True:
        return True
    if not isinstance(weights, str) or os.path.exists(weights):
        return False
    return weights in card.weight_tags or (":" in weights and "/" not in weights.split(":")[0])


def _our_metadata(path: Path, name: str) -> ModelMetadata | None:
    """The metadata of one of our weights files (None for our keys saved without it)."""
    entries = read_metadata(path)
    if entries.get("format") != FORMAT:
        return None
    if entries["model"] != name:
        saved = entries["model"]
        raise ArgumentError(
            f"{path} holds {saved} weights: build it with create_model({saved!r}, ...)",
            cli=f"{path} holds {saved} weights: give it with --weights alone (or --model {saved})",
        )
    return decode_metadata(entries)


def _provenance(entry: WeightEntry | None, weights: object, checkpoint) -> dict:
    provenance = {"weights": entry.tag if entry else (str(weights) if weights is not None else None)}
    if checkpoint is not None:
        provenance["source"] = checkpoint.source
    return provenance
