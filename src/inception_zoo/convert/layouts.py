"""The checkpoint layouts we know, both ways: which one a state dict's keys are, and our weights
under the keys of a library that reads a layout (``export_state_dict``).

Key names only: no torch is imported here (the command line's ``--help`` lists ``READERS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ArgumentError
from . import cadene as _cadene
from . import facenet as _facenet
from . import inception_next as _inception_next
from . import timm as _timm
from . import torchvision as _torchvision
from . import xception as _xception
from ._layout import Layout

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["LAYOUTS", "NATIVE", "READERS", "export_state_dict", "is_native", "recognise"]

LAYOUTS: tuple[Layout, ...] = (
    *_torchvision.LAYOUTS,
    *_timm.LAYOUTS,
    *_xception.LAYOUTS,
    *_cadene.LAYOUTS,
    *_inception_next.LAYOUTS,
    *_facenet.LAYOUTS,
)
NATIVE = "inception-zoo"
READERS = tuple(sorted({reader.library for layout in LAYOUTS for reader in layout.readers}))
# Options that change no weight's key or shape: a model built with them loads as it is.
_EXPORTABLE_OPTIONS = {"num_classes", "aux_logits", "drop_rate", "drop_path_rate"}


def recognise(state: dict[str, torch.Tensor]) -> Layout | None:
    """The layout whose signature the keys carry; ``None`` for our own keys or an unknown file."""
    return next((layout for layout in LAYOUTS if layout.matches(state)), None)


def is_native(state: dict[str, torch.Tensor]) -> bool:
    """Our own keys (checked after the foreign layouts, some of which also use ``features.``)."""
    return all(k.startswith(("features.", "head.", "aux_heads.")) for k in state)


def export_state_dict(model: nn.Module, library: str) -> tuple[dict[str, torch.Tensor], str]:
    """``model``'s weights under the keys of ``library``'s model of the network, and the call that builds
    that model: there they load with ``strict=True``."""
    if library not in READERS:
        raise ArgumentError(f"no library {library!r} to write weights for; choose one of {', '.join(READERS)}")
    name = model.name
    layout = next(
        (layout for layout in LAYOUTS if name in layout.models and (r := layout.reader(library)) and r.computes(name)),
        None,
    )
    if layout is None:
        offered = sorted(
            {r.library for layout in LAYOUTS if name in layout.models for r in layout.readers if r.computes(name)}
        )
        also = f"; {name} goes to {', '.join(offered)}" if offered else f"; no other library has {name}"
        raise ArgumentError(f"{library} has no model of {name} to write its weights for{also}")
    config = model.config or {}
    needed = dict(layout.model_kwargs)
    if any(config.get(k) != v for k, v in needed.items()):
        options = ", ".join(f"{k}={v!r}" for k, v in needed.items())
        raise ArgumentError(f"{library}'s {name} is built with {options}: the model was not")
    foreign = sorted(set(config) - _EXPORTABLE_OPTIONS - set(needed))
    if foreign:
        options = ", ".join(f"{k}={config[k]!r}" for k in foreign)
        raise ArgumentError(
            f"{library}'s {name} has no counterpart of {options}: in its model these weights would compute "
            "something else. Only the number of classes and the side classifiers may differ"
        )
    layers = tuple(model.features._modules)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    theirs = layout.unrename(state, library, layers)
    if len(set(theirs.values())) != len(theirs) or any(layout.rename(t, layers) != k for k, t in theirs.items()):
        raise ArgumentError(f"the {layout.source} tables do not map {name}'s keys one to one; please report this")
    builds = layout.reader(library).builds.format(
        name=name,
        num_classes=model.num_classes,
        aux_logits=bool(getattr(model, "aux_heads", None)),
        classify=model.num_classes > 0,
    )
    return {theirs[k]: v for k, v in state.items()}, builds
