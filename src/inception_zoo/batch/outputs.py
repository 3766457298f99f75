"""The files a batch job writes, chosen by the output's suffix: top-k as ``.csv``, ``.jsonl`` or
``.parquet``; embeddings as ``.parquet`` or ``.npy`` (with a ``.rows.jsonl`` of paths and errors).

A job writes its rows in parts (each a file of the same kind, or an ``.npz`` for ``.npy``), then
``merge`` streams the parts into the one output, a part at a time: memory stays the size of a part.
Columns, for top-k: ``path``, ``error`` (empty when the image was read), then ``label_1``,
``score_1``, ``index_1`` ... to ``k`` (``.jsonl``: a ``top`` list of ``{index, label, score}``);
for embeddings: ``path``, ``error``, ``embedding`` (a fixed-size list; null where the image was not read).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..errors import ArgumentError, needs_extra
from .options import OUTPUT_SUFFIXES
from .tasks import Embedding, Prediction

__all__ = ["Output", "output_for"]


class Output:
    """One kind of output file: ``write_part(rows, path)``, then ``merge(parts, path)`` (which returns
    how many rows are errors)."""

    part_suffix: str

    def write_part(self, rows: Sequence, path: Path) -> None:
        raise NotImplementedError

    def merge(self, parts: Sequence[Path], path: Path) -> int:
        raise NotImplementedError

    def files(self, path: Path) -> list[Path]:
        """The files that make up the output at ``path``."""
        return [path]


def output_for(task, path: Path) -> Output:
    """The output for ``task`` (``TopK`` or ``EmbeddingTask``) written to ``path``, by its suffix."""
    suffix = path.suffix.lower()
    allowed = OUTPUT_SUFFIXES[task.kind]
    if suffix not in allowed:
        raise ArgumentError(f"{task.kind} writes {', '.join(allowed)} files, not {path.name!r}", option="output")
    if task.kind == "predict":
        return {".csv": CsvTopK, ".jsonl": JsonlTopK, ".parquet": ParquetTopK}[suffix](task.k)
    return {".parquet": ParquetEmbeddings, ".npy": NpyEmbeddings}[suffix](task.dim, task.dtype)


def _pyarrow():
    with needs_extra("parquet", "writing .parquet files"):
        import pyarrow
        import pyarrow.parquet

    return pyarrow, pyarrow.parquet


def _concatenate(parts: Sequence[Path], path: Path, header: bytes = b"") -> None:
    with open(path, "wb") as out:
        out.write(header)
        for part in parts:
            with open(part, "rb") as source:
                shutil.copyfileobj(source, out)


class CsvTopK(Output):
    part_suffix = ".csv"

    def __init__(self, k: int):
        self.header = ["path", "error"] + [
            f"{name}_{i}" for i in range(1, k + 1) for name in ("label", "score", "index")
        ]

    def write_part(self, rows: Sequence[Prediction], path: Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            for row in rows:
                top = [value for p in row.top for value in (p["label"], repr(p["score"]), p["index"])]
                writer.writerow([row.path, row.error or "", *top])

    def merge(self, parts: Sequence[Path], path: Path) -> int:
        _concatenate(parts, path, (",".join(self.header) + "\r\n").encode())
        with open(path, newline="", encoding="utf-8") as written:
            return sum(1 for row in csv.DictReader(written) if row["error"])


class JsonlTopK(Output):
    part_suffix = ".jsonl"

    def __init__(self, k: int):
        self.k = k

    def write_part(self, rows: Sequence[Prediction], path: Path) -> None:
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(asdict(row)) + "\n" for row in rows)

    def merge(self, parts: Sequence[Path], path: Path) -> int:
        _concatenate(parts, path)
        with open(path, encoding="utf-8") as written:
            return sum(1 for line in written if json.loads(line)["error"])


class _Parquet(Output):
    part_suffix = ".parquet"

    def table(self, rows: Sequence):
        raise NotImplementedError

    def write_part(self, rows: Sequence, path: Path) -> None:
        _, pq = _pyarrow()
        pq.write_table(self.table(rows), path)

    def merge(self, parts: Sequence[Path], path: Path) -> int:
        pa, pq = _pyarrow()
        errors = 0
        with pq.ParquetWriter(path, self.schema()) as writer:
            for part in parts:
                table = pq.read_table(part, schema=self.schema())
                errors += table.num_rows - table.column("error").null_count
                writer.write_table(table)
        return errors


class ParquetTopK(_Parquet):
    def __init__(self, k: int):
        self.k = k

    def schema(self):
        pa, _ = _pyarrow()
        fields = [pa.field("path", pa.string()), pa.field("error", pa.string())]
        for i in range(1, self.k + 1):
            fields += [pa.field(f"label_{i}", pa.string()), pa.field(f"score_{i}", pa.float64())]
            fields += [pa.field(f"index_{i}", pa.int64())]
        return pa.schema(fields)

    def table(self, rows: Sequence[Prediction]):
        pa, _ = _pyarrow()
        columns: dict[str, list] = {"path": [r.path for r in rows], "error": [r.error for r in rows]}
        for i in range(self.k):
            for name in ("label", "score", "index"):
                columns[f"{name}_{i + 1}"] = [r.top[i][name] if r.top else None for r in rows]
        return pa.table(columns, schema=self.schema())


class ParquetEmbeddings(_Parquet):
    def __init__(self, dim: int, dtype: str):
        self.dim, self.dtype = dim, dtype

    def schema(self):
        pa, _ = _pyarrow()
        value = pa.float16() if self.dtype == "float16" else pa.float32()
        embedding = pa.field("embedding", pa.list_(value, self.dim))
        return pa.schema([pa.field("path", pa.string()), pa.field("error", pa.string()), embedding])

    def table(self, rows: Sequence[Embedding]):
        pa, _ = _pyarrow()
        values = np.zeros((len(rows), self.dim), dtype=self.dtype)  # a null row keeps its slots, as zeros
        for i, row in enumerate(rows):
            if row.vector is not None:
                values[i] = row.vector
        mask = pa.array([row.vector is None for row in rows])
        embedding = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), self.dim, mask=mask)
        return pa.table({"path": [r.path for r in rows], "error": [r.error for r in rows], "embedding": embedding})


class NpyEmbeddings(Output):
    """An ``(N, dim)`` array (NaN rows where an image was not read) and, beside it, ``<name>.rows.jsonl``:
    line ``i`` is row ``i``'s ``{"path", "error"}``."""

    part_suffix = ".npz"

    def __init__(self, dim: int, dtype: str):
        self.dim, self.dtype = dim, dtype

    @staticmethod
    def rows_file(path: Path) -> Path:
        return path.with_suffix(".rows.jsonl")

    def files(self, path: Path) -> list[Path]:
        return [path, self.rows_file(path)]

    def write_part(self, rows: Sequence[Embedding], path: Path) -> None:
        array = np.full((len(rows), self.dim), np.nan, dtype=self.dtype)
        for i, row in enumerate(rows):
            if row.vector is not None:
                array[i] = row.vector
        described = [json.dumps({"path": r.path, "error": r.error}) for r in rows]
        with open(path, "wb") as out:  # a file object: savez would add its own suffix to a name
            np.savez(out, embedding=array, rows=np.array(described, dtype=object).astype(str))

    def merge(self, parts: Sequence[Path], path: Path) -> int:
        sizes = []
        for part in parts:
            with np.load(part) as stored:
                sizes.append(len(stored["rows"]))
        merged = np.lib.format.open_memmap(path, mode="w+", dtype=self.dtype, shape=(sum(sizes), self.dim))
        errors, start = 0, 0
        with open(self.rows_file(path), "w", encoding="utf-8") as rows:
            for part, size in zip(parts, sizes, strict=True):
                with np.load(part) as stored:
                    merged[start : start + size] = stored["embedding"]
                    for line in stored["rows"]:
                        errors += json.loads(line)["error"] is not None
                        rows.write(line + "\n")
                start += size
        merged.flush()
        del merged
        return errors
