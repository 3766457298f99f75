"""Foreign checkpoints <-> our state dicts: read safely, recognise, rename by table, check loudly.

- ``layouts``: the key layouts we know (one table per source and network, in ``<source>.py``),
  how to recognise one, and the way back (``export_state_dict``: our keys renamed by a layout's
  ``inverse`` table into those of a library that reads it, checked by renaming them forward again;
  that library's model loads them with ``strict=True``).
- ``checkpoint``: reading a file without running anything in it, renaming its keys to ours, and
  loading them into a model with every key and shape checked.

Pure key layouts and checks: nothing here knows a network or our file format (the builder,
``inception_zoo.models._builder``, ties them together).

A facade: names are imported on first use (see ``inception_zoo._lazy``).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "LAYOUTS",
    "NATIVE",
    "READERS",
    "Checkpoint",
    "export_state_dict",
    "is_native",
    "load_checkpoint",
    "load_pickle",
    "read_state_dict",
    "recognise",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "LAYOUTS": ".layouts",
        "NATIVE": ".layouts",
        "READERS": ".layouts",
        "export_state_dict": ".layouts",
        "is_native": ".layouts",
        "recognise": ".layouts",
        "Checkpoint": ".checkpoint",
        "load_checkpoint": ".checkpoint",
        "load_pickle": ".checkpoint",
        "read_state_dict": ".checkpoint",
    },
)

if TYPE_CHECKING:
    from .checkpoint import Checkpoint, load_checkpoint, load_pickle, read_state_dict
    from .layouts import LAYOUTS, NATIVE, READERS, export_state_dict, is_native, recognise
