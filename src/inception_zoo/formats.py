"""Our file formats: weights whose metadata rebuild the model, and the formats ``export`` writes.

A weights file is safetensors whose metadata (strings, as safetensors stores them) is the
model's ``ModelMetadata`` as JSON: ``model``, ``config``, ``preprocessing``, ``labels`` and
``provenance``, plus ``format``. An exported file carries the same entries, each prefixed
``inception_zoo.`` (ONNX metadata_props; the ``inception_zoo.json`` entry of a ``.pt2``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path

from safetensors import SafetensorError, safe_open

from .errors import ArgumentError
from .models._metadata import ModelMetadata, Preprocessing

__all__ = ["EXPORT_FORMATS", "FORMAT", "decode_metadata", "encode_metadata", "read_metadata"]

FORMAT = "inception-zoo/1"
EXPORT_FORMATS = {"onnx": ".onnx", "torch-export": ".pt2"}  # format -> file suffix


def encode_metadata(metadata: ModelMetadata, prefix: str = "") -> dict[str, str]:
    """String entries that ``decode_metadata`` turns back into ``metadata`` (its feature maps aside)."""
    entries = {
        "model": metadata.name,
        "config": json.dumps(metadata.config),
        "preprocessing": json.dumps(dataclasses.asdict(metadata.preprocessing)),
        "labels": json.dumps(metadata.labels),
        "provenance": json.dumps(metadata.provenance),
    }
    return {prefix + key: value for key, value in entries.items()}


def decode_metadata(entries: Mapping[str, str], prefix: str = "") -> ModelMetadata:
    """The ``ModelMetadata`` written by ``encode_metadata`` (an export without a config gets an empty one)."""

    def entry(key: str, default: str) -> object:
        return json.loads(entries.get(prefix + key, default))

    return ModelMetadata(
        name=entries[prefix + "model"],
        config=entry("config", "{}"),
        preprocessing=Preprocessing.from_dict(json.loads(entries[prefix + "preprocessing"])),
        labels=entry("labels", "null"),
        provenance=entry("provenance", "{}"),
    )


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a safetensors file (empty for other files and for foreign safetensors)."""
    if Path(path).suffix != ".safetensors":
        return {}
    if not Path(path).is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise ArgumentError(f"{path} is not a readable safetensors file (truncated or corrupt?): {e}") from None
