"""``create_model``: the one way to build a network, with or without a checkpoint."""

from __future__ import annotations

import inspect
import os

from ..data.transforms import preprocessing_for
from ..labels import label_names
from ._base import InceptionNet
from ._features import FeatureExtractor
from ._registry import builder_for, model_class_of, model_info

__all__ = ["create_model"]


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
            once, hash-checked), or a checkpoint file: ours, or one saved from torchvision,
            timm, Cadene's pretrainedmodels or facenet-pytorch (``.pth``/``.pt`` or
            ``.safetensors``; the source is recognised from its keys). A different
            ``num_classes`` keeps the backbone and starts a new classifier, with a warning.
        aux_logits: build the side classifiers. ``None``: the network's default, or, with
            ``weights``, whatever the checkpoint has. Options that a checkpoint implies (its
            class count, its side heads, facenet's embedding head) fill in what is not given.
        drop_rate: dropout before the classifier; ``None`` keeps the network's default.
        features_only: return a ``FeatureExtractor`` whose forward gives one feature map per
            stride (``model.feature_info`` says which), instead of the classifier.
        out_indices: with ``features_only``, which of those maps (default: all).
        **model_kwargs: network-specific options (see the model's class).

    Example:
        >>> model = create_model("inception_v3", num_classes=10, aux_logits=False)
        >>> model(torch.randn(2, 3, 299, 299)).shape
        torch.Size([2, 10])
    """
    builder = builder_for(name)
    if num_classes is not None and num_classes < 0:
        raise ValueError(f"num_classes must be >= 0, got {num_classes}")
    if in_chans is not None and in_chans < 1:
        raise ValueError(f"in_chans must be >= 1, got {in_chans}")
    if out_indices is not None and not features_only:
        raise ValueError("out_indices applies only with features_only=True")

    given = dict(num_classes=num_classes, in_chans=in_chans, aux_logits=aux_logits, drop_rate=drop_rate)
    kwargs = {k: v for k, v in given.items() if v is not None} | model_kwargs
    checkpoint = entry = None
    if weights is not None:
        from ..convert import load_checkpoint
        from ..weights import resolve_weights

        path, entry = resolve_weights(name, weights)
        checkpoint = load_checkpoint(path, name)
        kwargs = checkpoint.model_kwargs | kwargs  # what the file needs; the caller's choices win
    _check_kwargs(name, builder, kwargs)

    model = builder(**kwargs)
    model._registered_name = name
    model.config = kwargs
    model.feature_info = list(model_info(name).feature_info)
    model.preprocessing = preprocessing_for(name, entry)
    model.labels = label_names(entry.labels if entry else "imagenet-1k", model.num_classes)
    model.provenance = {"weights": entry.tag if entry else (str(weights) if weights is not None else None)}
    if checkpoint is not None:
        model.provenance["source"] = checkpoint.source
        checkpoint.load_into(model)
        if checkpoint.metadata:
            from ..weights import restore_metadata

            restore_metadata(model, checkpoint.metadata)
    if features_only:
        return FeatureExtractor(model, model.feature_info, out_indices)
    return model


def _check_kwargs(name: str, builder, kwargs: dict) -> None:
    """Refuse misspelt or foreign options with the list of the ones the network takes."""
    params = inspect.signature(model_class_of(builder).__init__).parameters
    accepted = {p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}
    accepted -= {"variant", "depths", "dims", "band_kernel", "branch_ratio", "entry", "middle_blocks"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ValueError(
            f"{name} does not take {', '.join(unknown)}; it takes {', '.join(sorted(accepted))} "
            f"(see inception_zoo.model_info({name!r}))"
        )
