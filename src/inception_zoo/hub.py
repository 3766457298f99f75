"""Downloading published checkpoints: once, verified, atomically, and never hanging.

Files go to torch's hub cache (``torch.hub.get_dir()/checkpoints``), where torchvision and
Cadene's pretrainedmodels put the same files under the same names, so a checkpoint any of them
downloaded before is used as it is. A download streams into a temporary file beside its
destination, is checked against the hash its source publishes, and only then is renamed into
place: an interrupted or corrupt download never leaves a cache file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import torch

from .models._registry import WeightEntry

__all__ = ["DownloadError", "cache_dir", "fetch"]

TIMEOUT_S = float(os.environ.get("INCEPTION_ZOO_DOWNLOAD_TIMEOUT", "15"))


class DownloadError(OSError):
    """A checkpoint could not be downloaded (offline, unreachable, or a wrong hash)."""


def cache_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch(entry: WeightEntry, *, timeout: float = TIMEOUT_S) -> Path:
    """The local path of ``entry``'s file, downloading it first if it is not cached."""
    path = cache_dir() / entry.cache_name
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    offline_hint = (
        f"If this machine is offline, download {entry.url} elsewhere and pass its path as weights=..., "
        f"or copy it to {path}"
    )
    digest = hashlib.sha256()
    fd, tmp_path = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as tmp, urllib.request.urlopen(entry.url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                tmp.write(chunk)
        if entry.sha256_prefix and not digest.hexdigest().startswith(entry.sha256_prefix):
            raise DownloadError(
                f"{entry.tag}: the file from {entry.url} has SHA-256 {digest.hexdigest()[:16]}..., expected "
                f"{entry.sha256_prefix}...; it was not kept. The source may have changed or the transfer was corrupted."
            )
        os.replace(tmp_path, path)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        reason = f"HTTP {e.code} {e.reason}" if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", e)
        raise DownloadError(f"could not download {entry.tag} from {entry.url}: {reason}. {offline_hint}") from None
    finally:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
    return path
