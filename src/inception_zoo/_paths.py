"""Where the library keeps files of its own between runs."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_home"]


def cache_home() -> Path:
    """``$INCEPTION_ZOO_CACHE``, else ``$XDG_CACHE_HOME/inception-zoo`` (``~/.cache/inception-zoo``)."""
    if "INCEPTION_ZOO_CACHE" in os.environ:
        return Path(os.environ["INCEPTION_ZOO_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "inception-zoo"
