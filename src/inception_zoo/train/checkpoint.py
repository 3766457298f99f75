"""Checkpoints that resume a run to the bit: ``last.pt`` written atomically, read safely, with every
random state the next step depends on."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from .._files import atomic_output
from ..convert.checkpoint import load_pickle
from ..errors import ArgumentError

__all__ = [
    "CHECKPOINT_FORMAT",
    "read_checkpoint",
    "restore_rng_state",
    "rng_state",
    "seed_everything",
    "write_checkpoint",
]

CHECKPOINT_FORMAT = "inception-zoo-train/1"


def write_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` with our format tag; killed at any moment, ``path`` is the old or the new file, whole."""
    with atomic_output(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, **state}, tmp)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """A ``last.pt`` of ours, read with ``weights_only=True``; anything else is refused, touching nothing."""
    checkpoint = load_pickle(path, "training checkpoint")
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ArgumentError(f"{path} is not a training checkpoint of ours (a last.pt written by 'inception-zoo train')")
    return checkpoint


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def rng_state() -> dict:
    """Python's, NumPy's, torch's and CUDA's random states, as tensors and plain data (weights_only-safe)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype("uint32"), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
