"""Reading a checkpoint file safely, and loading it into a model with every key and shape checked.

1. ``read_state_dict``: safetensors, or a pickle read with ``weights_only=True`` (a file that
   tries to run code is refused, and nothing in it runs); unwrap ``{"state_dict": ...}``,
   ``{"model": ...}`` and DataParallel's ``module.`` prefix.
2. recognise the source from its keys (``layouts.recognise``), rename by its table; drop
   TF-slim's background class where a 1000-class model wants it.
3. ``Checkpoint.load_into``: every key used, every shape equal, or an ``ArgumentError`` naming
   the file and the first offending key.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ..errors import ArgumentError
from .layouts import LAYOUTS, NATIVE, is_native, recognise

__all__ = ["Checkpoint", "load_checkpoint", "load_pickle", "read_state_dict"]

_WRAPPERS = ("state_dict", "model", "model_state_dict", "module", "net")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a checkpoint's tensors without running any code that the file may carry."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    if path.suffix == ".safetensors":
        try:
            state = load_file(path)
        except (SafetensorError, OSError, ValueError) as e:
            raise ArgumentError(f"{path} is not a readable safetensors file (truncated or corrupt?): {e}") from None
    else:
        state = load_pickle(path)
    return _unwrap(state, path)


def load_pickle(path: str | os.PathLike, what: str = "checkpoint") -> object:
    """``torch.load`` with ``weights_only=True``: a file that would run code is refused and nothing in it
    runs; a file that is not a checkpoint at all (truncated, corrupt, random bytes) is named as such."""
    try:
        with warnings.catch_warnings():  # random bytes read as a pickle's protocol number: said below instead
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as e:
        held = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if held:  # a pickle of objects other than tensors
            raise ArgumentError(
                f"refused to load {path}: it holds objects other than tensors ({held[1]}), and loading them "
                "could run code. Nothing in it was run. If you trust the file, re-save its state_dict (or use "
                "safetensors)"
            ) from None
        raise ArgumentError(
            f"{path} is not a readable {what} (truncated or corrupt?): not a pickle of tensors"
        ) from None
    except (EOFError, RuntimeError, OSError) as e:  # torch's and the zip reader's own words
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ArgumentError(f"{path} is not a readable {what} (truncated or corrupt?): {reason}") from None
    except Exception:  # the unpickler tripping over bytes that are no pickle (IndexError, KeyError, ...)
        raise ArgumentError(
            f"{path} is not a readable {what} (truncated or corrupt?): not a pickle of tensors"
        ) from None


def _unwrap(state: object, path: Path) -> dict[str, torch.Tensor]:
    while isinstance(state, dict):
        inner = [k for k in _WRAPPERS if isinstance(state.get(k), dict)]
        if not inner or any(isinstance(v, torch.Tensor) for v in state.values()):
            break
        state = state[inner[0]]
    if not isinstance(state, dict) or not state:
        raise ArgumentError(f"{path} holds no state dict (found {type(state).__name__})")
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ArgumentError(f"{path} holds no tensors; keys: {list(state)[:5]}")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k.removeprefix("module."): v for k, v in tensors.items()}
    return tensors


@dataclass
class Checkpoint:
    """A checkpoint renamed to our keys, ready to be checked against a model and loaded."""

    path: Path
    source: str
    state_dict: dict[str, torch.Tensor]
    background_class: bool = False
    layout_kwargs: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def has_aux(self) -> bool:
        return any(k.startswith("aux_heads.") for k in self.state_dict)

    @property
    def model_kwargs(self) -> dict:
        """The constructor options the keys imply: side heads, class count, layout options."""
        kwargs = dict(self.layout_kwargs, aux_logits=self.has_aux)
        fc = self.state_dict.get("head.fc.weight")
        if fc is None:
            kwargs["num_classes"] = 0  # a file without a classifier (an embedding network, a backbone)
        else:
            kwargs["num_classes"] = fc.shape[0] - 1 if self.background_class and fc.shape[0] == 1001 else fc.shape[0]
        return kwargs

    def load_into(self, model: nn.Module, *, require_trained_head: bool = False) -> list[str]:
        """Load into ``model``: every key used and every shape equal, except where the model was
        asked to differ, which is adapted and reported (returned, and warned):

        - a classifier for another number of classes: the file's is left out, the new one is fresh;
        - another number of input channels: the first conv is adapted (summed for one channel,
          repeated and rescaled for more, as timm's ``adapt_input_conv``);
        - side classifiers in the file but not the model are dropped; in the model but not the
          file, they keep their fresh initialisation.

        Anything else that does not fit raises an ``ArgumentError`` naming the file and the first key;
        so does a classifier the file cannot supply when ``require_trained_head`` (inference).
        """
        state = dict(self.state_dict)
        expected = model.state_dict()
        notes = list(self.notes)
        if self.background_class:
            _drop_background_class(state, expected, notes)
        _adapt_input_conv(state, expected, notes)
        fresh = _leave_out_mismatched_classifiers(state, expected, notes)
        untrained = [k for k in fresh if k.startswith("head.")]
        if require_trained_head and untrained:
            old, new = self.state_dict[untrained[0]].shape[0], expected[untrained[0]].shape[0]
            raise ArgumentError(
                f"{self.path} has a {old}-class classifier and the model {new} classes: its answers would come "
                "from an untrained classifier. Leave the number of classes to the file, or fine-tune first"
            )
        for prefix, what in (("aux_heads.", "the side classifiers"), ("head.fc.", "the classifier")):
            dropped = [k for k in state if k.startswith(prefix)]
            if dropped and not any(k.startswith(prefix) for k in expected):
                for k in dropped:
                    del state[k]
                notes.append(f"dropped {what} ({len(dropped)} tensors): the model was built without")
        if not any(k.startswith("aux_heads.") for k in state):
            aux = [k for k in expected if k.startswith("aux_heads.")]
            if aux:
                fresh += aux
                notes.append("the file has no side classifiers: the model's are freshly initialised (train them)")

        where = f"{self.path} ({self.source})"
        missing = [k for k in expected if k not in state and k not in fresh]
        unexpected = [k for k in state if k not in expected]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"{len(missing)} missing, first {missing[0]!r}")
            if unexpected:
                parts.append(f"{len(unexpected)} unexpected, first {unexpected[0]!r}")
            raise ArgumentError(f"{where} does not fit {model.name}: {'; '.join(parts)}")
        for key, tensor in state.items():
            if tensor.shape != expected[key].shape:
                raise ArgumentError(
                    f"{where} does not fit {model.name}: {key!r} has shape {tuple(tensor.shape)} in the file, "
                    f"{tuple(expected[key].shape)} in the model"
                )
        model.load_state_dict(state, strict=False)
        for note in notes:
            warnings.warn(f"{self.path}: {note}", stacklevel=3)
        return notes


def _is_classifier(key: str) -> bool:
    return key.startswith(("head.fc.", "aux_heads.")) and ".fc." in key


def _leave_out_mismatched_classifiers(state: dict, expected: dict, notes: list[str]) -> list[str]:
    """Classifiers built for another number of classes keep their fresh weights."""
    fresh = [k for k in state if _is_classifier(k) and k in expected and state[k].shape != expected[k].shape]
    if fresh:
        old, new = state[fresh[0]].shape[0], expected[fresh[0]].shape[0]
        notes.append(f"new {new}-class classifier in place of the file's {old}-class one: train it")
    for key in fresh:
        del state[key]
    return fresh


def _adapt_input_conv(state: dict, expected: dict, notes: list[str]) -> None:
    """A first conv for another number of input channels, made from the file's RGB one."""
    first = next((k for k, v in expected.items() if v.dim() == 4), None)
    if first is None or first not in state or state[first].shape == expected[first].shape:
        return
    weight, want = state[first], expected[first].shape[1]
    if weight.shape[0] != expected[first].shape[0] or weight.shape[2:] != expected[first].shape[2:]:
        return  # not an input-channel difference: the shape check reports it
    if want == 1:
        adapted = weight.sum(dim=1, keepdim=True)
    else:
        repeats = -(-want // weight.shape[1])
        adapted = weight.repeat(1, repeats, 1, 1)[:, :want] * (weight.shape[1] / want)
    state[first] = adapted.to(weight.dtype)
    notes.append(f"adapted the first conv {first!r} from {weight.shape[1]} to {want} input channels")


def _drop_background_class(state: dict, expected: dict, notes: list[str]) -> None:
    """TF-slim's checkpoints have 1001 outputs, class 0 being "background"; ImageNet has 1000."""
    for key in [k for k in state if k.endswith("fc.weight") or k.endswith("fc.bias")]:
        if key in expected and state[key].shape[0] == 1001 and expected[key].shape[0] == 1000:
            state[key] = state[key][1:]
            notes.append(f"dropped TF-slim's background class from {key}")


def load_checkpoint(path: str | os.PathLike, model_name: str, layers: Sequence[str] = ()) -> Checkpoint:
    """Read ``path``, recognise its source and rename its keys for ``model_name``, whose layers
    (``model.features``, in order) are ``layers``. Our own keys come back as they are."""
    state = read_state_dict(path)
    layout = recognise(state)
    if layout is None and is_native(state):
        return Checkpoint(Path(path), NATIVE, state)
    if layout is None:
        sample = ", ".join(list(state)[:3])
        known = "; ".join(sorted({layout.source for layout in LAYOUTS}))
        raise ArgumentError(
            f"{path}: not a checkpoint format we know (first keys: {sample}). Supported sources: {known}"
        )
    if model_name not in layout.models:
        names = " or ".join(repr(m) for m in layout.models)
        raise ArgumentError(
            f"{path} is a {layout.source} checkpoint: build it with create_model({names}, ...), not {model_name!r}",
            cli=f"{path} is a {layout.source} checkpoint: it is for --model {' or '.join(layout.models)}, "
            f"not {model_name}",
        )
    renamed = {layout.rename(k, layers): v for k, v in state.items()}
    if len(renamed) != len(state):
        raise ArgumentError(f"{path}: the {layout.source} rename table maps two keys to one; please report this")
    return Checkpoint(
        Path(path),
        layout.source,
        renamed,
        background_class=layout.background_class,
        layout_kwargs=dict(layout.model_kwargs),
    )
