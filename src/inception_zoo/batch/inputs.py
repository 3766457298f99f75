"""What a batch job reads: image files, folders, text files listing paths, and webdataset-style
``.tar`` shards, as one numbered stream of items in a fixed order.

The order is the same on every walk (each folder's entries sorted by name, folders entered as they
come), so that the item numbers are stable: a resumed or sharded job and every DataLoader worker
agree on which image is number ``i`` without a list of millions of paths kept in memory.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArgumentError

__all__ = ["IMAGE_SUFFIXES", "LIST_SUFFIX", "SHARD_SUFFIX", "Item", "check_inputs", "count_items", "walk_items"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
LIST_SUFFIX = ".txt"  # a text file of image paths, one per line, relative to the file's folder
SHARD_SUFFIX = ".tar"  # webdataset-style: the image members of the archive, in archive order


@dataclass(frozen=True)
class Item:
    """One image of the stream: its number and the path it is reported under (``shard.tar/member``
    for a member of a shard; None for an image given in memory)."""

    index: int
    path: str | None


# An item and how to read it: ``load()`` gives a path or (for a shard member) the encoded bytes;
# it must be called before the walk goes on to the next item.
Found = tuple[Item, Callable[[], "str | bytes"]]


def check_inputs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The paths as given, each an existing file or folder (else an ``ArgumentError`` naming it)."""
    checked = [Path(p) for p in paths]
    if not checked:
        raise ArgumentError("no inputs given: name image files, folders, .txt lists of paths or .tar shards")
    for path in checked:
        if not path.exists():
            raise ArgumentError(f"no such file or folder: {path}")
    return checked


def walk_items(paths: Iterable[Path]) -> Iterator[Found]:
    """Every item of ``paths``, numbered from 0 in input order."""
    index = 0
    for source in _sources(paths):
        for path, load in source:
            yield Item(index, path), load
            index += 1


def count_items(paths: Iterable[Path]) -> int:
    """How many items ``walk_items`` yields (reads shard headers and lists, decodes nothing)."""
    return sum(1 for _ in walk_items(paths))


def _sources(paths: Iterable[Path]) -> Iterator[Iterator[tuple[str, Callable]]]:
    for path in paths:
        if path.is_dir():
            for file in _walk_folder(path):
                yield _shard(file) if file.suffix.lower() == SHARD_SUFFIX else _file(file)
        elif path.suffix.lower() == LIST_SUFFIX:
            yield _listed(path)
        elif path.suffix.lower() == SHARD_SUFFIX:
            yield _shard(path)
        else:
            yield _file(path)  # named on its own: read whatever its suffix, an unreadable one is reported


def _walk_folder(folder: Path) -> Iterator[Path]:
    """The image files and shards under ``folder``, depth first, each folder's entries sorted by name."""
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    for entry in entries:
        if entry.is_dir():
            yield from _walk_folder(Path(entry.path))
        elif entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES | {SHARD_SUFFIX}:
            yield Path(entry.path)


def _file(path: Path) -> Iterator[tuple[str, Callable]]:
    yield str(path), lambda: str(path)


def _listed(listing: Path) -> Iterator[tuple[str, Callable]]:
    with open(listing, encoding="utf-8") as lines:
        for line in lines:
            if name := line.strip():
                path = listing.parent / name
                yield str(path), lambda path=path: str(path)


def _shard(shard: Path) -> Iterator[tuple[str, Callable]]:
    try:
        archive = tarfile.open(shard, "r:")  # noqa: SIM115 (closed below; the generator holds it open)
    except (tarfile.TarError, OSError) as e:
        raise ArgumentError(f"{shard} is not a readable tar shard: {e}") from None
    with archive:
        for member in archive:  # headers only: the walk seeks past the data it does not read
            if member.isfile() and Path(member.name).suffix.lower() in IMAGE_SUFFIXES:
                yield f"{shard}/{member.name}", lambda member=member: archive.extractfile(member).read()
