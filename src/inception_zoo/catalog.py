"""The registry's facts as plain data, kept on disk, so that listing networks loads no torch.

``catalog()`` is ``models._zoo.model_table()`` (names, papers, counted parameters and GMACs,
preprocessing, weight entries): counted once per version of the model sources, keyed by a hash
of them, and read back after that. The package ships the table of its own sources
(``catalog.json``, written by ``python -m inception_zoo.catalog``; a test keeps it current); a
changed source is counted again on first use and cached in our cache folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ._files import atomic_output
from ._paths import cache_home

__all__ = ["catalog", "model_names", "sources_digest", "write_catalog"]

PACKAGE = Path(__file__).parent
SHIPPED = PACKAGE / "catalog.json"
SOURCES = ("models", "layers")  # what the facts are counted from


def sources_digest() -> str:
    """SHA-256 of the model sources: their paths and contents."""
    digest = hashlib.sha256()
    for path in sorted(p for folder in SOURCES for p in (PACKAGE / folder).rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _read(path: Path, digest: str) -> list[dict] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data["models"] if isinstance(data, dict) and data.get("digest") == digest else None


def _write(path: Path, digest: str, models: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:  # processes that start together (torchrun) never read half a file
        tmp.write_text(json.dumps({"digest": digest, "models": models}, indent=1) + "\n")
    return path


def catalog() -> list[dict]:
    """One row per registered network, sorted by name: the facts of ``inception_zoo.model_info``."""
    digest = sources_digest()
    cached = cache_home() / f"catalog-{digest[:16]}.json"
    for path in (SHIPPED, cached):
        models = _read(path, digest)
        if models is not None:
            return models
    from .models._zoo import model_table  # counting builds every network: torch, once per source version

    models = model_table()
    _write(cached, digest, models)
    return models


def model_names() -> list[str]:
    return [row["name"] for row in catalog()]


def write_catalog(path: Path = SHIPPED) -> Path:
    """Count the facts afresh and write them where the package ships them."""
    from .models._zoo import model_table

    return _write(path, sources_digest(), model_table())


if __name__ == "__main__":
    print(write_catalog())
