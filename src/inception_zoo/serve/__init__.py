"""The HTTP service (FastAPI; the ``serve`` extra).

A facade: names are imported on first use (see ``inception_zoo._lazy``).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = ["Limits", "background_server", "create_app", "listen", "run_server"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {"Limits": ".limits", "background_server": ".app", "create_app": ".app", "listen": ".app", "run_server": ".app"},
)

if TYPE_CHECKING:
    from .app import background_server, create_app, listen, run_server
    from .limits import Limits
