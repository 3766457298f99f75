"""What a run leaves to read: train.log, metrics.csv, TensorBoard events and curves.png."""

from __future__ import annotations

import csv
import logging

from .._files import atomic_output
from ..plots import plot_curves
from .folder import RunFolder

__all__ = ["RunReport"]


class RunReport:
    """Rank 0's record of a run, rewritten whole after each epoch (so a resumed run's files stay consistent)."""

    def __init__(self, folder: RunFolder, *, resume_step: int = 0):
        self.folder = folder
        self.resume_step = resume_step
        self._writer = None
        self._handler = None

    def start_log(self) -> None:
        self._handler = logging.FileHandler(self.folder.log)
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("inception_zoo.train").addHandler(self._handler)

    def record(self, row: dict, metrics: list[dict]) -> None:
        self._write_csv(metrics)
        self._tensorboard(row)
        plot_curves(metrics, self.folder.curves)

    def _write_csv(self, metrics: list[dict]) -> None:
        fields = list(dict.fromkeys(key for row in metrics for key in row))
        path = self.folder.metrics
        with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(metrics)

    def _tensorboard(self, row: dict) -> None:
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional: the CSV and the plots hold the same numbers
                return
            # purge_step drops events a stopped run wrote after its checkpoint, so a resumed run has no duplicates
            self._writer = SummaryWriter(self.folder.events, purge_step=self.resume_step or None)
        for key, value in row.items():
            if key not in ("epoch", "step"):
                self._writer.add_scalar(key.replace("_", "/", 1), value, row["epoch"])
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._handler is not None:
            logging.getLogger("inception_zoo.train").removeHandler(self._handler)
            self._handler.close()
