"""The service's limits, decided before any work: plain data, light enough for the command line."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ..errors import ArgumentError

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 2**20  # one image's upload
    max_pixels: int = 40_000_000  # width x height, read from the header before decoding
    max_batch_size: int = 16  # images per model call, and per protocol request
    max_wait_ms: float = 5.0  # how long the first request of a batch waits for company
    max_topk: int = 100
    max_queue: int = 256  # images accepted per model and not yet answered; more are refused (503)
    shutdown_timeout: float = 30.0  # seconds after SIGTERM that accepted requests may take to finish

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ArgumentError(f"{field.name} must be a finite number, got {value!r}", option=field.name)
            if value < 0 or (value == 0 and field.name not in ("max_wait_ms", "shutdown_timeout")):
                raise ArgumentError(f"{field.name} must be > 0, got {value}", option=field.name)
