"""Our own weights files: ``save_weights`` writes one, ``load_model`` rebuilds the model from it.

A weights file is safetensors whose metadata (``inception_zoo.formats``) says everything needed
to rebuild the model from the file alone: the network's name, its constructor options, its
preprocessing, its class names and where the weights came from. ``inception-zoo convert``
turns any supported checkpoint into one, and ``save_weights(..., to=library)`` writes ours the
way back, for timm, torchvision, Cadene's pretrainedmodels or facenet-pytorch to load.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from ._files import atomic_output
from ._version import __version__
from .convert.layouts import export_state_dict
from .errors import ArgumentError
from .formats import FORMAT, decode_metadata, encode_metadata, read_metadata
from .models._builder import create_model
from .runtime import OnnxModel

__all__ = ["export_call", "load_model", "save_weights"]


def save_weights(model: nn.Module, path: str | os.PathLike, *, to: str | None = None) -> Path:
    """Write ``model`` as a safetensors file that ``load_model`` rebuilds it from, with nothing else;
    or, ``to`` a library (``"timm"``, ``"torchvision"``, ``"cadene"``, ``"facenet"``), a state dict
    under that library's keys, ``.safetensors`` or a ``torch.save`` pickle (``.pth``), which its model
    loads with ``strict=True`` (``export_call`` says how to build it).

    Example:
        >>> save_weights(model, "inception_v3_finetuned.safetensors")
        >>> model = load_model("inception_v3_finetuned.safetensors")
        >>> save_weights(model, "inception_v4_timm.safetensors", to="timm")
    """
    metadata = getattr(model, "metadata", None)
    if metadata is None:
        raise ArgumentError("save_weights needs a model built by create_model (it records the network's options)")
    if to is not None:
        return _save_for(model, Path(path), to)
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ArgumentError(f"our weights are safetensors files: name it {path.with_suffix('.safetensors')}")
    saved_by = {"saved_by": f"inception-zoo {__version__}", "torch": torch.__version__}
    entries = encode_metadata(dataclasses.replace(metadata, provenance=metadata.provenance | saved_by))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    with atomic_output(path) as tmp:
        save_file(state, tmp, metadata={"format": FORMAT, **entries})
    return path


def export_call(model: nn.Module, library: str) -> str:
    """The call that builds ``library``'s model for ``save_weights(model, ..., to=library)``'s file."""
    return export_state_dict(model, library)[1]


def _save_for(model: nn.Module, path: Path, library: str) -> Path:
    if path.suffix not in (".safetensors", ".pth", ".pt", ".bin"):
        raise ArgumentError(f"name the file .safetensors or .pth (a torch.save pickle), not {path.name}")
    state = export_state_dict(model, library)[0]
    with atomic_output(path) as tmp:
        if path.suffix == ".safetensors":
            save_file(state, tmp)
        else:
            torch.save(state, tmp)
    return path


def load_model(path: str | os.PathLike) -> nn.Module:
    """Rebuild a model from a file written by ``save_weights``: same network, options, weights,
    preprocessing and labels, so the same outputs. An ``.onnx`` file of ours (from ``export`` or
    ``quantize_int8``) comes back as an ``OnnxModel``, run by ONNX Runtime."""
    if Path(path).suffix == ".onnx":
        return OnnxModel(path)
    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT:
        said = f"{path} is not an inception-zoo weights file (no {FORMAT!r} metadata); for a foreign checkpoint"
        raise ArgumentError(
            f"{said} use create_model(name, weights=path), or convert it with 'inception-zoo convert'",
            cli=f"{said} give --model NAME with it, or convert it with 'inception-zoo convert'",
        )
    saved = decode_metadata(metadata)
    return create_model(saved.name, weights=path, require_trained_head=True, **saved.config)
