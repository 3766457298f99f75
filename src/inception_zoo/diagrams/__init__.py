"""Figures of every network and module, drawn from the code: the structure read from the built model
(``structure``), laid out (``layout``), painted with matplotlib (``render``), and the docs' gallery
(``gallery``). A facade: names are imported on first use; only drawing needs the ``diagram`` extra.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "FORMATS",
    "ModuleDiagram",
    "NetworkDiagram",
    "describe_module",
    "describe_network",
    "diagram",
    "draw",
    "layout_module",
    "layout_network",
    "save_figure",
    "stale_figures",
    "write_gallery",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ModuleDiagram": ".structure",
        "NetworkDiagram": ".structure",
        "describe_module": ".structure",
        "describe_network": ".structure",
        "layout_module": ".layout",
        "layout_network": ".layout",
        "FORMATS": ".render",
        "diagram": ".render",
        "draw": ".render",
        "save_figure": ".render",
        "stale_figures": ".gallery",
        "write_gallery": ".gallery",
    },
)

if TYPE_CHECKING:
    from .gallery import stale_figures, write_gallery
    from .layout import layout_module, layout_network
    from .render import FORMATS, diagram, draw, save_figure
    from .structure import ModuleDiagram, NetworkDiagram, describe_module, describe_network
