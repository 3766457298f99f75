"""The training loop: a recipe, side-classifier losses, EMA, mixed precision, DDP, and resume to the bit.

``train(TrainConfig(...))`` is what ``inception-zoo train`` runs. Under ``torchrun`` it trains
with DistributedDataParallel (gloo on the CPU, NCCL on GPUs) and only rank 0 writes.

Resume is exact because everything that decides the next step is in ``last.pt``: weights,
optimizer, scheduler, scaler and EMA state, the epoch and the batch within it, and every
random state. Each epoch's order comes from a generator seeded by (seed, epoch), so a resumed
epoch replays the same batches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, DistributedSampler, Sampler
from tqdm import tqdm

from .. import distributed
from .._files import atomic_output
from ..data.datasets import Transformed, collate_skipping, load_datasets
from ..data.options import DATASETS
from ..data.transforms import transforms_for
from ..errors import ArgumentError, TrainingDiverged
from ..evaluate import Tally, evaluate_batches
from ..losses import inception_loss
from ..models._base import TrainForward
from ..models._builder import create_model
from ..models._zoo import model_info
from ..weights import save_weights
from .checkpoint import read_checkpoint, restore_rng_state, rng_state, seed_everything, write_checkpoint
from .config import TrainConfig
from .folder import RunFolder
from .optim import build_optimizer
from .recipes import RECIPES, lr_factor
from .report import RunReport

__all__ = ["Interrupted", "TrainResult", "train"]

log = logging.getLogger("inception_zoo.train")


@dataclass
class TrainResult:
    output: Path
    epochs: int
    metrics: list[dict]  # one row per epoch, as metrics.csv
    best_top1: float
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Which file holds what: the last epoch's weights, and the best epoch's."""
        if not self.metrics:
            return f"no epoch trained; nothing new in {self.output}"
        last = self.metrics[-1]
        best = max(self.metrics, key=lambda row: row["val_top1"])
        folder = RunFolder(self.output)
        return (
            f"val top-1 {last['val_top1']:.2f}% after the last epoch, {last['epoch']} ({folder.weights}); "
            f"best val top-1 {best['val_top1']:.2f}% after epoch {best['epoch']} ({folder.best_weights})"
        )


class Interrupted(KeyboardInterrupt):
    """Ctrl-C: the run saved a checkpoint at the current batch and stopped."""


def train(config: TrainConfig, *, train_set=None, val_set=None, classes: list[str] | None = None) -> TrainResult:
    """Train a network as ``config`` says; ``train_set``/``val_set`` (yielding ``(PIL image, target)``)
    may replace ``config.data`` from Python.

    Example:
        >>> result = train(TrainConfig(model="inception_next_atto_cifar", dataset="cifar10", epochs=30))
        >>> model = load_model(result.output / "model.safetensors")
    """
    checkpoint = None
    if config.resume:
        checkpoint = read_checkpoint(config.resume)
        stored = TrainConfig(**checkpoint["config"])
        # A resumed run is the stored run: only its length, where it writes and how it loads may change.
        config = dataclasses.replace(
            stored,
            epochs=config.epochs or stored.epochs,
            output=config.output or stored.output,
            workers=config.workers,
            resume=config.resume,
        )
    elif config.epochs is None:
        config = dataclasses.replace(config, epochs=10)
    if train_set is None and config.data is None and config.dataset is None:
        raise ArgumentError("give either data (a folder with train/ and val/ inside) or dataset", option="data")
    processes = distributed.join(config.device)
    try:
        return _Run(config, processes, checkpoint, train_set, val_set, classes).fit()
    finally:
        distributed.leave(processes)


class _SkipFirst(Sampler):
    """A sampler without its first ``count`` indices: where a run stopped inside an epoch."""

    def __init__(self, sampler: Sampler, count: int):
        self.sampler, self.count = sampler, count

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.count, None)

    def __len__(self) -> int:
        return len(self.sampler) - self.count


@dataclass
class _EpochTotals:
    """What one epoch's steps add up to, on this process (merged over processes at the end); a run
    stopped inside an epoch saves them, so that the resumed epoch's row counts every batch."""

    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.perf_counter)

    def merged(self, processes) -> _EpochTotals:
        """The sums over every process (each process must call this)."""
        summed = torch.tensor([self.loss_sum, self.correct, self.seen, self.skipped], dtype=torch.float64)
        loss_sum, correct, seen, skipped = processes.sum(summed).tolist()
        return _EpochTotals(loss_sum, int(correct), int(seen), int(skipped), self.started)

    def saved(self) -> dict:
        return {"loss_sum": self.loss_sum, "correct": self.correct, "seen": self.seen, "skipped": self.skipped,
                "seconds": time.perf_counter() - self.started}  # fmt: skip

    @classmethod
    def restored(cls, saved: dict) -> _EpochTotals:
        started = time.perf_counter() - saved["seconds"]
        return cls(saved["loss_sum"], saved["correct"], saved["seen"], saved["skipped"], started)


class _Run:
    """One training run; its attributes are the state that ``last.pt`` holds."""

    def __init__(self, config: TrainConfig, processes, checkpoint, train_set, val_set, classes):
        self.config, self.processes, self.device = config, processes, processes.device
        self.recipe = RECIPES[config.recipe]
        self.output = Path(config.output or Path("runs") / config.model)
        self.folder = RunFolder(self.output)
        if checkpoint is None and self.folder.holds_a_run():
            raise ArgumentError(
                f"{self.output} already holds a run: continue it with --resume {self.folder.last}, "
                "or choose another --output"
            )
        if checkpoint is None:
            seed_everything(config.seed)
        self._build_data(train_set, val_set, classes)
        self._build_model()
        self._build_optimization()
        self.epoch, self.batch, self.step, self.best_top1, self.metrics = 0, 0, 0, -1.0, []
        self.unreadable: list[str] = []
        self.epoch_so_far: _EpochTotals | None = None  # of the epoch a stopped run was in
        if checkpoint is not None:
            self._restore(checkpoint)
        self.report = RunReport(self.folder, resume_step=self.step) if processes.main else None
        self.stop_requested = False

    # -- setting up --------------------------------------------------------------------------------

    def _build_data(self, train_set, val_set, classes) -> None:
        config, world = self.config, self.processes.world
        self.info = model_info(config.model)
        if train_set is None:
            train_set, val_set, classes = load_datasets(
                data=config.data, dataset=config.dataset, image_size=config.img_size or self.info.input_size[-1]
            )  # the digits' split is fixed, whatever the seed: 'eval --dataset digits' sees the same val set
        self.classes = list(classes or getattr(train_set, "classes", None) or [])
        if len(train_set) < config.batch_size * world:
            raise ArgumentError(
                f"the training set has {len(train_set)} images, fewer than one batch of {config.batch_size} "
                f"on each of {world} processes"
            )
        self.raw_train_set, self.raw_val_set = train_set, val_set
        self.steps_per_epoch = (
            len(DistributedSampler(train_set, world, self.processes.rank, seed=config.seed)) // config.batch_size
        )
        self.total_steps = self.steps_per_epoch * config.epochs

    def _build_model(self) -> None:
        config = self.config
        aux = config.aux_logits
        if aux is None and config.weights is None:  # the papers train the side classifiers a network has
            aux = self.info.aux_heads > 0
        model = create_model(
            config.model,
            num_classes=len(self.classes),
            weights=config.weights,
            aux_logits=aux,
            drop_rate=self.recipe.drop_rate,  # a paper's dropout (Xception's 0.5); None: the network's default
        )
        # The weights' own preprocessing (a fine-tuned model keeps its statistics), at the size trained.
        size = config.img_size or model.preprocessing.input_size[-1]
        pre = dataclasses.replace(model.preprocessing, input_size=(3, size, size))
        if config.dataset:
            pre = dataclasses.replace(pre, crop_pct=1.0)  # CIFAR and digits are already tight crops
        augment = config.augment or DATASETS.get(config.dataset, "inception")
        self.train_set = Transformed(self.raw_train_set, transforms_for(pre, train=True, augment=augment))
        self.val_set = Transformed(self.raw_val_set, transforms_for(pre))
        model.preprocessing, model.labels = pre, self.classes
        self.model = model.to(self.device)
        if config.freeze_bn:
            for norm in self._batch_norms():
                norm.requires_grad_(False)
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.aux_weight = next(
            (w for w in (config.aux_weight, self.recipe.aux_weight, self.info.aux_loss_weight) if w is not None), 0.0
        )
        smoothing = config.label_smoothing
        self.label_smoothing = smoothing if smoothing is not None else self.recipe.label_smoothing

    def _build_optimization(self) -> None:
        config, device = self.config, self.device
        self.lr = config.lr if config.lr is not None else self.recipe.lr
        self.optimizer = build_optimizer(self.model, self.recipe, self.lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(self.recipe, step, self.steps_per_epoch, self.total_steps)
        )
        if config.amp == "fp16" and device.type != "cuda":
            raise ArgumentError("fp16 mixed precision needs a GPU; on the CPU use bf16")
        if config.amp == "bf16" and device.type == "cpu" and not _cpu_has_bf16() and self.processes.main:
            log.warning(
                "this CPU has no native bf16 (AVX512-BF16 or AMX): bf16 mixed precision will be slower than fp32"
            )
        self.scaler = torch.amp.GradScaler(device.type, enabled=config.amp == "fp16")
        ema_decay = config.ema_decay if config.ema_decay is not None else self.recipe.ema_decay
        self.ema_decay = ema_decay or None
        self.ema = None
        if ema_decay:
            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
        step_module = TrainForward(self.model)
        if self.processes.world > 1:
            step_module = nn.parallel.DistributedDataParallel(
                step_module, device_ids=[device.index] if device.type == "cuda" else None
            )
        self.step_module = torch.compile(step_module) if config.compile else step_module
        self.eval_model = torch.compile(self.model) if config.compile else self.model

    # -- the loop ----------------------------------------------------------------------------------

    def fit(self) -> TrainResult:
        if self.processes.main:
            self.output.mkdir(parents=True, exist_ok=True)
            self.report.start_log()
            self._write_config()
            self._log_start()
        interruptible = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._request_stop) if interruptible else None
        try:
            while self.epoch < self.config.epochs:
                row = self._train_epoch() | self._evaluate_epoch()
                self.epoch, self.batch = self.epoch + 1, 0
                if self.processes.main:
                    self._end_epoch(row)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            if self.report is not None:
                self.report.close()
        if self.processes.main:
            save_weights(self.model, self.folder.weights)
            if self.ema is not None:
                save_weights(self.ema.module, self.folder.ema_weights)
            log.info("done: %s", TrainResult(self.output, self.epoch, self.metrics, self.best_top1).summary())
        return TrainResult(self.output, self.epoch, self.metrics, self.best_top1, self.unreadable)

    def _train_epoch(self) -> dict:
        self.model.train()
        if self.config.freeze_bn:
            for norm in self._batch_norms():
                norm.eval()  # normalise with the stored statistics and leave them alone
        totals, self.epoch_so_far = self.epoch_so_far or _EpochTotals(), None
        bar = tqdm(
            self._epoch_batches(),
            total=self.steps_per_epoch,
            initial=self.batch,
            disable=not self._interactive,
            desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
            dynamic_ncols=True,
            leave=False,
        )
        for images, targets, unreadable in bar:
            self._note_unreadable(unreadable, totals)
            if self.processes.any(images is None or len(images) < 2):  # batch norm needs two; every rank skips
                self.batch += 1
                continue
            logits, loss = self._step(images, targets)
            totals.loss_sum += loss.detach().double().item() * len(images)
            totals.correct += int((logits.argmax(dim=1) == targets.to(logits.device)).sum())
            totals.seen += len(images)
            self._show_progress(bar, totals)
            if self.processes.any(self.stop_requested):
                self._save_checkpoint(totals)
                raise Interrupted(
                    f"interrupted: saved {self.folder.last} at epoch {self.epoch + 1}, batch {self.batch}; "
                    f"continue with --resume {self.folder.last}"
                )
        bar.close()
        return self._epoch_row(totals)

    def _epoch_batches(self) -> DataLoader:
        """This epoch's batches for this process, after the ones a stopped run already took."""
        sampler = DistributedSampler(
            self.train_set, self.processes.world, self.processes.rank, shuffle=True, seed=self.config.seed
        )
        sampler.set_epoch(self.epoch)
        skip = self.batch * self.config.batch_size
        seed = (self.config.seed * 100_003 + self.epoch) * 1009 + self.processes.rank
        return self._loader(self.train_set, _SkipFirst(sampler, skip) if skip else sampler, seed=seed, drop_last=True)

    def _step(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step on a batch; returns its logits and loss."""
        images = images.to(self.device, non_blocking=True)
        targets = targets.to(self.device, non_blocking=True)
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            output = self.step_module(images)
            loss = inception_loss(output, targets, aux_weight=self.aux_weight, label_smoothing=self.label_smoothing)
        self._check_finite(loss)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.recipe.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.batch += 1
        self.step += 1
        return output.logits, loss

    def _epoch_row(self, totals: _EpochTotals) -> dict:
        totals = totals.merged(self.processes)
        return {
            "epoch": self.epoch + 1,
            "step": self.step,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": totals.loss_sum / max(totals.seen, 1),
            "train_top1": 100 * totals.correct / max(totals.seen, 1),
            "images_per_s": totals.seen / (time.perf_counter() - totals.started),
            "skipped": totals.skipped,
        }

    def _evaluate_epoch(self) -> dict:
        row = self._evaluate(self.eval_model, "val")
        if self.ema is not None:
            row |= self._evaluate(self.ema.module, "ema_val")
        return row

    def _evaluate(self, model: nn.Module, prefix: str) -> dict:
        """Each process evaluates every world-th image; the sums are merged, so the numbers are exact."""
        rank, world = self.processes.rank, self.processes.world
        shard = torch.utils.data.Subset(self.val_set, range(rank, len(self.val_set), world))
        model.eval()
        tally = Tally(len(self.classes))
        evaluate_batches(model, self._loader(shard, None, seed=self.config.seed), tally, device=self.device,
                         autocast=self._autocast())  # fmt: skip
        if world > 1:
            tally.all_reduce()
        result = tally.result()
        return {f"{prefix}_loss": result.loss, f"{prefix}_top1": result.top1, f"{prefix}_top5": result.top5}

    def _end_epoch(self, row: dict) -> None:
        self.metrics.append(row)
        improved = row["val_top1"] > self.best_top1
        if improved:
            self.best_top1 = row["val_top1"]
            save_weights(self.model, self.folder.best_weights)
        self._save_checkpoint()
        self.report.record(row, self.metrics)
        log.info(
            "epoch %d/%d  train loss %.4f top-1 %.2f%%  val loss %.4f top-1 %.2f%% top-5 %.2f%%  %.0f img/s%s",
            row["epoch"], self.config.epochs, row["train_loss"], row["train_top1"], row["val_loss"],
            row["val_top1"], row["val_top5"], row["images_per_s"], "  (best)" if improved else "",
        )  # fmt: skip

    # -- reporting ---------------------------------------------------------------------------------

    @property
    def _interactive(self) -> bool:
        return self.processes.main and sys.stderr.isatty()

    def _log_start(self) -> None:
        config = self.config
        log.info(
            "training %s on %d images (%d classes), %d epochs x %d steps, recipe %s, lr %g, on %s x%d",
            config.model, len(self.train_set), len(self.classes), config.epochs, self.steps_per_epoch,
            config.recipe, self.lr, self.device, self.processes.world,
        )  # fmt: skip

    def _note_unreadable(self, unreadable: list, totals: _EpochTotals) -> None:
        for item in unreadable:
            log.warning("skipped an unreadable image: %s (%s)", item.path, item.error)
        self.unreadable += [u.path for u in unreadable]
        totals.skipped += len(unreadable)

    def _show_progress(self, bar, totals: _EpochTotals) -> None:
        loss, accuracy = totals.loss_sum / totals.seen, 100 * totals.correct / totals.seen
        rate = totals.seen * self.processes.world / (time.perf_counter() - totals.started)
        if self._interactive:
            bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.1f}%", img_s=f"{rate:.0f}")
        elif self.processes.main and self.batch % max(1, self.steps_per_epoch // 5) == 0:
            log.info(
                "epoch %d/%d  batch %d/%d  loss %.4f  acc %.1f%%  %.0f img/s",
                self.epoch + 1, self.config.epochs, self.batch, self.steps_per_epoch, loss, accuracy, rate,
            )  # fmt: skip

    def _write_config(self) -> None:
        """config.json: the options as given, and what they resolved to (the recipe's values, the world size)."""
        resolved = {
            "recipe": dataclasses.asdict(self.recipe),
            "lr": self.lr,
            "aux_weight": self.aux_weight,
            "label_smoothing": self.label_smoothing,
            "ema_decay": self.ema_decay,
            "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.processes.world,
            "global_batch_size": self.config.batch_size * self.processes.world,
            "device": str(self.device),
            "train_images": len(self.train_set),
            "val_images": len(self.val_set),
            "classes": self.classes,
            "preprocessing": dataclasses.asdict(self.model.preprocessing),
            "torch": torch.__version__,
        }
        text = json.dumps({"config": dataclasses.asdict(self.config), "resolved": resolved}, indent=2)
        with atomic_output(self.folder.config) as tmp:
            tmp.write_text(text)

    # -- helpers -----------------------------------------------------------------------------------

    def _loader(self, dataset, sampler, *, seed: int, drop_last: bool = False) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.config.batch_size,
            sampler=sampler,
            num_workers=self.config.workers,
            collate_fn=collate_skipping,
            pin_memory=self.device.type == "cuda",
            drop_last=drop_last,
            generator=torch.Generator().manual_seed(seed),  # worker seeds: a function of (seed, epoch)
            persistent_workers=False,
        )

    def _batch_norms(self) -> list[nn.Module]:
        return [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def _autocast(self):
        if self.config.amp is None:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _check_finite(self, loss: torch.Tensor) -> None:
        if not self.processes.any(not torch.isfinite(loss.detach()).item()):
            return
        last = self.folder.last
        kept = f"the last good state is {last}" if last.exists() else "nothing was saved: no epoch had finished"
        warmup = "" if self.recipe.warmup_fraction else ", the default recipe (it warms up)"
        raise TrainingDiverged(
            f"the loss became {loss.item()} (on this process) at epoch {self.epoch + 1}, batch {self.batch + 1}: "
            f"stopped; {kept}. Try a lower learning rate (--lr){warmup}, or look for broken images"
        )

    def _request_stop(self, signum, frame) -> None:
        if self.stop_requested:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.stop_requested = True
        if self.processes.main:
            log.warning("Ctrl-C: saving a checkpoint after this batch (press again to stop at once)")

    # -- checkpoints -------------------------------------------------------------------------------

    def _save_checkpoint(self, epoch_so_far: _EpochTotals | None = None) -> None:
        """``last.pt``; ``epoch_so_far``: the totals of the epoch being stopped inside (every process calls)."""
        epoch_so_far = epoch_so_far.merged(self.processes) if epoch_so_far is not None else None
        if not self.processes.main:
            return
        write_checkpoint(
            self.folder.last,
            {
                "config": dataclasses.asdict(self.config),
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "ema": self.ema.state_dict() if self.ema is not None else None,
                "epoch": self.epoch,
                "batch": self.batch,
                "step": self.step,
                "best_top1": self.best_top1,
                "metrics": self.metrics,
                "classes": self.classes,
                "unreadable": self.unreadable,
                "epoch_so_far": epoch_so_far.saved() if epoch_so_far is not None else None,
                "rng": rng_state(),
            },
        )

    def _restore(self, checkpoint: dict) -> None:
        if checkpoint["classes"] != self.classes:
            raise ArgumentError(
                f"{self.config.resume} was trained on classes {checkpoint['classes'][:5]}..., "
                f"this data has {self.classes[:5]}..."
            )
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.scaler.load_state_dict(checkpoint["scaler"])
        if self.ema is not None and checkpoint["ema"] is not None:
            self.ema.load_state_dict(checkpoint["ema"])
        self.epoch, self.batch, self.step = checkpoint["epoch"], checkpoint["batch"], checkpoint["step"]
        self.best_top1, self.metrics = checkpoint["best_top1"], checkpoint["metrics"]
        self.unreadable = checkpoint["unreadable"]
        so_far = checkpoint.get("epoch_so_far")
        if so_far is not None and self.processes.main:  # the merged totals: the other processes start from 0
            self.epoch_so_far = _EpochTotals.restored(so_far)
        restore_rng_state(checkpoint["rng"])


def _cpu_has_bf16() -> bool:
    """AVX512-BF16 or AMX (torch's own probes; private, so a missing probe counts as 'has it')."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    probes = [probe for probe in probes if probe is not None]
    return not probes or any(probe() for probe in probes)
