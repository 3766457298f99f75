"""``create_model``: the one way to build a network, with or without a checkpoint."""

from __future__ import annotations

import inspect
import os

from ._base import InceptionNet
from ._features import FeatureExtractor
from ._registry import builder_for, model_class_of, model_info

__all__ = ["create_model"]


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    in_chans: int = 3,
    weights: str | os.PathLike | None = None,
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
        in_chans: input channels.
        weights: a checkpoint file saved from torchvision, timm or Cadene's pretrainedmodels
            (``.pth``/``.pt`` or ``.safetensors``); its source is recognised from its keys.
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
    if in_chans < 1:
        raise ValueError(f"in_chans must be >= 1, got {in_chans}")
    if out_indices is not None and not features_only:
        raise ValueError("out_indices applies only with features_only=True")

    checkpoint = None
    if weights is not None:
        from ..convert import load_checkpoint

        checkpoint = load_checkpoint(weights, name)
        implied = checkpoint.model_kwargs  # what the file needs; the caller's choices win
        num_classes = implied.pop("num_classes", None) if num_classes is None else num_classes
        aux_logits = implied.pop("aux_logits") if aux_logits is None else aux_logits
        model_kwargs = {k: v for k, v in implied.items() if k not in ("num_classes", "aux_logits")} | model_kwargs
    kwargs = dict(in_chans=in_chans, **model_kwargs)
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if aux_logits is not None:
        kwargs["aux_logits"] = aux_logits
    if drop_rate is not None:
        kwargs["drop_rate"] = drop_rate
    _check_kwargs(name, builder, kwargs)

    model = builder(**kwargs)
    model._registered_name = name
    model.feature_info = list(model_info(name).feature_info)
    if checkpoint is not None:
        checkpoint.load_into(model)
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
