"""Weights: resolving ``weights=`` (a tag, ``True`` or a file), and our own file format.

Our format is safetensors whose metadata says everything needed to rebuild the model from the
file alone: the network's name, its constructor options, its preprocessing, its class names
and where the weights came from. ``save_weights`` writes it, ``load_model`` reads it, and
``inception-zoo convert`` turns any supported checkpoint into it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch
from torch import nn

from .data.transforms import Preprocessing, preprocessing_of
from .models._registry import WeightEntry, registered_card

__all__ = ["FORMAT", "is_tag", "load_model", "read_metadata", "resolve_weights", "save_weights"]

FORMAT = "inception-zoo/1"


def is_tag(name: str, weights: object) -> bool:
    """``True``, or a string naming one of the network's weight entries (``"source:name"``)."""
    if weights is True:
        return True
    if not isinstance(weights, str) or os.path.exists(weights):
        return False
    return weights in registered_card(name).weight_tags or (":" in weights and "/" not in weights.split(":")[0])


def resolve_weights(name: str, weights: str | os.PathLike | bool) -> tuple[Path, WeightEntry | None]:
    """The local file for ``weights``, downloading a tag's file if needed, and its entry if it is one."""
    if is_tag(name, weights):
        from .hub import fetch

        entry = registered_card(name).weight_entry(weights)
        return fetch(entry), entry
    if weights is False:
        raise ValueError("weights=False: pass None for no weights")
    return Path(weights), None


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a safetensors file (empty for other files and foreign safetensors)."""
    if Path(path).suffix != ".safetensors":
        return {}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return f.metadata() or {}


def save_weights(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model`` as a safetensors file that ``load_model`` rebuilds it from, with nothing else.

    Example:
        >>> save_weights(model, "inception_v3_finetuned.safetensors")
        >>> model = load_model("inception_v3_finetuned.safetensors")
    """
    from safetensors.torch import save_file

    from . import __version__

    config = getattr(model, "config", None)
    if config is None:
        raise ValueError("save_weights needs a model built by create_model (it records the network's options)")
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"our weights are safetensors files: name it {path.with_suffix('.safetensors')}")
    metadata = {
        "format": FORMAT,
        "model": model.name,
        "config": json.dumps(config),
        "preprocessing": json.dumps(dataclasses.asdict(preprocessing_of(model))),
        "labels": json.dumps(getattr(model, "labels", None)),
        "provenance": json.dumps(
            {**getattr(model, "provenance", {}), "saved_by": f"inception-zoo {__version__}", "torch": torch.__version__}
        ),
    }
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.part")
    save_file(state, tmp, metadata=metadata)
    os.replace(tmp, path)  # a crash mid-write never leaves a half-written file under the real name
    return path


def load_model(path: str | os.PathLike) -> nn.Module:
    """Rebuild a model from a file written by ``save_weights``: same network, options, weights,
    preprocessing and labels, so the same outputs. An ``.onnx`` file of ours (from ``export`` or
    ``quantize_int8``) comes back as an ``OnnxModel``, run by ONNX Runtime."""
    from .models import create_model

    if Path(path).suffix == ".onnx":
        from .runtime import OnnxModel

        return OnnxModel(path)
    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not an inception-zoo weights file (no {FORMAT!r} metadata); for a foreign "
            f"checkpoint use create_model(name, weights=path), or convert it with 'inception-zoo convert'"
        )
    config = json.loads(metadata["config"])
    return create_model(metadata["model"], weights=path, **config)


def restore_metadata(model: nn.Module, metadata: dict[str, str]) -> None:
    """Give a model loaded from one of our files the preprocessing, labels and provenance it was saved with."""
    model.preprocessing = Preprocessing(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(metadata["preprocessing"]).items()}
    )
    labels = json.loads(metadata["labels"])
    if labels is not None and len(labels) == getattr(model, "num_classes", None):  # not after a new head
        model.labels = labels
    model.provenance = json.loads(metadata["provenance"])
