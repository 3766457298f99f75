"""Figures of every network and module, drawn from the code: the structure read from the built model
(``structure``). A facade: names are imported on first use.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = ["ModuleDiagram", "NetworkDiagram", "describe_module", "describe_network"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ModuleDiagram": ".structure",
        "NetworkDiagram": ".structure",
        "describe_module": ".structure",
        "describe_network": ".structure",
    },
)

if TYPE_CHECKING:
    from .structure import ModuleDiagram, NetworkDiagram, describe_module, describe_network
