"""The batch jobs' choices, as plain data: what the command line offers without loading torch."""

from __future__ import annotations

import os

__all__ = ["COMPUTE_DTYPES", "EMBEDDING_DTYPES", "OUTPUT_SUFFIXES", "PART_SIZE", "default_workers"]

COMPUTE_DTYPES = ("float32", "bfloat16", "float16")  # the optimised model's precision
EMBEDDING_DTYPES = ("float32", "float16")  # how embeddings are stored
OUTPUT_SUFFIXES = {"predict": (".csv", ".jsonl", ".parquet"), "embed": (".parquet", ".npy")}
PART_SIZE = 4096  # images per part of a job: what a crash can cost, and the merge's unit of memory


def default_workers() -> int:
    """Decode workers: one per core but the one the model runs on, at least one, at most eight."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))
