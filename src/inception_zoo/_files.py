"""Writing an output: to the path asked for, whole or not at all, with a new file's usual permissions.

Every file the library writes goes through ``atomic_output``: the folder is checked first (a
missing or read-only one is an ``ArgumentError`` naming the path asked for), the file is written
beside its destination under a hidden name and renamed into place only when complete, so that a
crash never leaves half a file under the real name, and an error never names the hidden one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import ArgumentError, InceptionZooError

__all__ = ["atomic_output", "writable"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file in this process


def writable(path: str | os.PathLike) -> Path:
    """``path``, if its folder exists and may be written to; else an ``ArgumentError`` saying which is not so.
    (Work that takes long checks this before it starts.)"""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ArgumentError(f"cannot write {path}: {folder} {what}")
    if not os.access(folder, os.W_OK):
        raise ArgumentError(f"cannot write {path}: the folder {folder} is not writable")
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; it becomes ``path`` when the block ends without error.

    Example:
        >>> with atomic_output("model.onnx") as tmp:
        ...     onnx.save(proto, tmp)
    """
    path = writable(path)
    tmp = path.parent / f".{path.stem}.{os.getpid()}.part{path.suffix}"  # the suffix last: some writers go by it
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except InceptionZooError:
        raise
    except OSError as e:  # the disk full, the folder gone: say it of the path asked for
        raise OSError(e.errno, f"cannot write {path}: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)
