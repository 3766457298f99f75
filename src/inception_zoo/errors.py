"""The errors the library raises on purpose. Each says what was wrong and what would be right;
the command line prints one as a single line (no traceback) and exits with its ``exit_code``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = [
    "ArgumentError",
    "DownloadError",
    "ExportMismatch",
    "InceptionZooError",
    "MissingExtra",
    "QuantizationTooLossy",
    "TrainingDiverged",
    "needs_extra",
]


class InceptionZooError(Exception):
    """Base of every error the library raises on purpose.

    ``cli`` is the same message in the command line's words (its flags rather than Python's
    arguments), where they differ.
    """

    exit_code = 1

    def __init__(self, message: str, *, cli: str | None = None):
        super().__init__(message)
        self.cli = cli


class ArgumentError(InceptionZooError, ValueError):
    """An argument, option or input file that cannot be used as given.

    ``option`` names the argument the message is about (by its Python name, which the message
    contains), so that the command line can say its flag instead (``--batch-size must be ...``).
    """

    exit_code = 2

    def __init__(self, message: str, *, option: str | None = None, cli: str | None = None):
        super().__init__(message, cli=cli)
        self.option = option


class DownloadError(InceptionZooError, OSError):
    """A checkpoint could not be downloaded (offline, unreachable) or is not the file its source publishes."""

    exit_code = 2


class MissingExtra(InceptionZooError, ImportError):
    """An optional part of the library whose dependencies are not installed."""


class ExportMismatch(InceptionZooError, RuntimeError):
    """The exported file does not compute what the model computes; it was deleted."""


class QuantizationTooLossy(InceptionZooError, RuntimeError):
    """The int8 model's logits are further from the fp32 model's than allowed; no file was written."""


class TrainingDiverged(InceptionZooError, RuntimeError):
    """The loss became NaN or infinite; the last checkpoint on disk is the last good state."""


@contextlib.contextmanager
def needs_extra(extra: str, what: str) -> Iterator[None]:
    """Imports inside this block belong to ``extra``: a missing one raises ``MissingExtra`` naming it.

    Example:
        >>> with needs_extra("serve", "the HTTP service"):
        ...     import fastapi
    """
    try:
        yield
    except ModuleNotFoundError as e:
        raise MissingExtra(
            f"{what} needs the '{extra}' extra ({e.name} is not installed): pip install 'inception-zoo[{extra}]'"
        ) from None
