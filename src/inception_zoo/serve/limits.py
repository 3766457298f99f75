"""The service's limits, decided before any work: plain data, light enough for the command line."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 2**20  # one upload
    max_pixels: int = 40_000_000  # width x height, read from the header before decoding
    max_batch_size: int = 16  # images per model call
    max_wait_ms: float = 5.0  # how long the first request of a batch waits for company
    max_topk: int = 100
