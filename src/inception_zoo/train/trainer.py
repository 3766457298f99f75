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
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from ..data.datasets import DATASETS, Transformed, collate_skipping, load_datasets
from ..data.transforms import AUGMENTATIONS, transforms_for
from ..evaluate import Tally, evaluate_batches
from ..losses import inception_loss
from ..models import TrainOutput
from .optim import build_optimizer
from .recipes import RECIPES, lr_factor
from .report import RunReport

__all__ = ["CHECKPOINT_FORMAT", "Interrupted", "TrainConfig", "TrainResult", "TrainingDiverged", "train"]

CHECKPOINT_FORMAT = "inception-zoo-train/1"
log = logging.getLogger("inception_zoo.train")


@dataclass
class TrainConfig:
    """Everything a run depends on; stored in ``last.pt`` so that a resume needs only the file."""

    model: str | None = None
    data: str | None = None  # a folder with train/ and val/ ImageFolder trees
    dataset: str | None = None  # or a named data set: cifar10, cifar100, digits
    output: str | None = None  # default: runs/<model>
    epochs: int | None = None  # default: 10, or, when resuming, the stored run's
    batch_size: int = 32  # per process
    lr: float | None = None  # default: the recipe's
    recipe: str = "default"
    img_size: int | None = None  # default: the network's input size
    augment: str | None = None  # inception, cifar or none; default: by data set
    workers: int = 0
    seed: int = 0
    weights: str | None = None  # start from these (a tag or a file); the classifier is new if classes differ
    aux_logits: bool | None = None  # train the side classifiers (default: the network's default)
    aux_weight: float | None = None  # default: the recipe's, else the network's
    label_smoothing: float | None = None  # default: the recipe's
    ema_decay: float | None = None  # default: the recipe's; 0 turns it off
    amp: str | None = None  # "bf16", or "fp16" (GPU, with a gradient scaler)
    freeze_bn: bool = False  # keep BatchNorm's statistics and affine terms as loaded (fine-tuning, small batches)
    channels_last: bool = True  # faster on every network timed (CPU: 1.05-1.3x a training step)
    compile: bool = False
    device: str | None = None  # default: this process's GPU, else the CPU
    resume: str | None = None  # a last.pt to continue from


@dataclass
class TrainResult:
    output: Path
    epochs: int
    metrics: list[dict]
    best_top1: float
    unreadable: list[str] = field(default_factory=list)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last checkpoint on disk is the last good state."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C: the run saved a checkpoint at the current batch and stopped."""


class _TrainForward(nn.Module):
    """``forward`` = the network's ``forward_train``, as a tuple: what DDP and torch.compile wrap."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model.forward_train(images)
        return (out.logits, *out.aux)


class _SkipFirst(Sampler):
    """A sampler without its first ``count`` indices: where a run stopped inside an epoch."""

    def __init__(self, sampler: Sampler, count: int):
        self.sampler, self.count = sampler, count

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.count, None)

    def __len__(self) -> int:
        return len(self.sampler) - self.count


def train(config: TrainConfig, *, train_set=None, val_set=None, classes: list[str] | None = None) -> TrainResult:
    """Train a network as ``config`` says; ``train_set``/``val_set`` (yielding ``(PIL image, target)``)
    may replace ``config.data`` from Python.

    Example:
        >>> result = train(TrainConfig(model="inception_next_atto_cifar", dataset="cifar10", epochs=30))
        >>> model = load_model(result.output / "model.safetensors")
    """
    checkpoint = None
    if config.resume:
        checkpoint = _read_checkpoint(config.resume)
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
    _validate(config, custom_data=train_set is not None)
    rank, world, device = _setup_distributed(config)
    try:
        return _Run(config, rank, world, device, checkpoint, train_set, val_set, classes).fit()
    finally:
        if world > 1:
            dist.destroy_process_group()


def _validate(config: TrainConfig, custom_data: bool) -> None:
    from ..models import list_models

    if config.model not in list_models():
        raise ValueError(f"unknown model {config.model!r}: see 'inception-zoo list'")
    if config.recipe not in RECIPES:
        raise ValueError(f"unknown recipe {config.recipe!r}: use one of {', '.join(RECIPES)}")
    if not custom_data and (config.data is None) == (config.dataset is None):
        raise ValueError("give either --data DIR (with train/ and val/ inside) or --dataset NAME")
    if config.augment is not None and config.augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTATIONS)}, got {config.augment!r}")
    if config.amp not in (None, "bf16", "fp16"):
        raise ValueError(f"amp must be 'bf16' or 'fp16', got {config.amp!r}")
    for name in ("epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")
    if config.batch_size < 2:
        raise ValueError("batch_size must be >= 2: batch norm cannot train on one image per batch")


def _setup_distributed(config: TrainConfig) -> tuple[int, int, torch.device]:
    """Rank, world size and device; joins the process group that torchrun describes in the environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if config.device:
        device = torch.device(config.device)
    elif torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return dist.get_rank(), world, device
    return 0, 1, device


class _Run:
    """One training run; its attributes are the state that ``last.pt`` holds."""

    def __init__(self, config, rank, world, device, checkpoint, train_set, val_set, classes):
        from ..models import create_model, model_info

        self.config, self.rank, self.world, self.device = config, rank, world, device
        self.recipe = RECIPES[config.recipe]
        self.output = Path(config.output or Path("runs") / config.model)
        if checkpoint is None and (self.output / "last.pt").exists():
            raise ValueError(
                f"{self.output} already holds a run: continue it with --resume {self.output / 'last.pt'}, "
                "or choose another --output"
            )
        if checkpoint is None:
            _seed_everything(config.seed)

        info = model_info(config.model)
        if train_set is None:
            train_set, val_set, classes = load_datasets(
                data=config.data, dataset=config.dataset, image_size=config.img_size or info.input_size[-1]
            )  # the digits' split is fixed, whatever the seed: 'eval --dataset digits' sees the same val set
        classes = list(classes or getattr(train_set, "classes", None) or [])
        if len(train_set) < config.batch_size * world:
            raise ValueError(
                f"the training set has {len(train_set)} images, fewer than one batch of {config.batch_size} "
                f"on each of {world} processes"
            )

        model = create_model(
            config.model, num_classes=len(classes), weights=config.weights, aux_logits=config.aux_logits
        )
        # The weights' own preprocessing (a fine-tuned model keeps its statistics), at the size trained.
        size = config.img_size or model.preprocessing.input_size[-1]
        pre = dataclasses.replace(model.preprocessing, input_size=(3, size, size))
        if config.dataset:
            pre = dataclasses.replace(pre, crop_pct=1.0)  # CIFAR and digits are already tight crops
        augment = config.augment or DATASETS.get(config.dataset, "inception")
        train_tf, val_tf = transforms_for(pre, train=True, augment=augment), transforms_for(pre)
        self.train_set, self.val_set = Transformed(train_set, train_tf), Transformed(val_set, val_tf)
        self.classes = classes
        model.preprocessing, model.labels = pre, classes
        self.model = model.to(device)
        if config.freeze_bn:
            for norm in self._batch_norms():
                norm.requires_grad_(False)
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.aux_weight = next(
            (w for w in (config.aux_weight, self.recipe.aux_weight, info.aux_loss_weight) if w is not None), 0.0
        )
        self.label_smoothing = (
            config.label_smoothing if config.label_smoothing is not None else self.recipe.label_smoothing
        )
        self.steps_per_epoch = len(DistributedSampler(train_set, world, rank, seed=config.seed)) // config.batch_size
        self.total_steps = self.steps_per_epoch * config.epochs
        self.lr = config.lr if config.lr is not None else self.recipe.lr
        self.optimizer = build_optimizer(self.model, self.recipe, self.lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(self.recipe, step, self.steps_per_epoch, self.total_steps)
        )
        if config.amp == "fp16" and device.type != "cuda":
            raise ValueError("fp16 mixed precision needs a GPU; on the CPU use --amp bf16")
        if config.amp == "bf16" and device.type == "cpu" and not _cpu_has_bf16() and rank == 0:
            log.warning("this CPU has no native bf16 (AVX512-BF16 or AMX): --amp bf16 will be slower than fp32")
        self.scaler = torch.amp.GradScaler(device.type, enabled=config.amp == "fp16")
        ema_decay = config.ema_decay if config.ema_decay is not None else self.recipe.ema_decay
        self.ema_decay = ema_decay or None
        self.ema = None
        if ema_decay:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)

        step_module = _TrainForward(self.model)
        if world > 1:
            step_module = nn.parallel.DistributedDataParallel(
                step_module, device_ids=[device.index] if device.type == "cuda" else None
            )
        self.step_module = torch.compile(step_module) if config.compile else step_module
        self.eval_model = torch.compile(self.model) if config.compile else self.model

        self.epoch, self.batch, self.step, self.best_top1, self.metrics = 0, 0, 0, -1.0, []
        self.unreadable: list[str] = []
        if checkpoint is not None:
            self._restore(checkpoint)
        self.report = RunReport(self.output, resume_step=self.step) if rank == 0 else None
        self.stop_requested = False

    # -- the loop -------------------------------------------------------------------------------

    def fit(self) -> TrainResult:
        config = self.config
        if self.rank == 0:
            self.output.mkdir(parents=True, exist_ok=True)
            self.report.start_log()
            self._write_config()
            log.info(
                "training %s on %d images (%d classes), %d epochs x %d steps, recipe %s, lr %g, on %s x%d",
                config.model,
                len(self.train_set),
                len(self.classes),
                config.epochs,
                self.steps_per_epoch,
                config.recipe,
                self.lr,
                self.device,
                self.world,
            )
        previous = signal.signal(signal.SIGINT, self._request_stop) if _main_thread() else None
        try:
            while self.epoch < config.epochs:
                row = self._train_epoch()
                row |= self._validate()
                self.epoch, self.batch = self.epoch + 1, 0
                if self.rank == 0:
                    self._end_epoch(row)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            if self.report is not None:
                self.report.close()
        if self.rank == 0:
            from ..weights import save_weights

            save_weights(self.model, self.output / "model.safetensors")
            if self.ema is not None:
                save_weights(self.ema.module, self.output / "model_ema.safetensors")
            log.info("done: best val top-1 %.2f%%; weights in %s", self.best_top1, self.output / "model.safetensors")
        return TrainResult(self.output, self.epoch, self.metrics, self.best_top1, self.unreadable)

    def _write_config(self) -> None:
        """config.json: the options as given, and what they resolved to (the recipe's values, the world size)."""
        resolved = {
            "recipe": dataclasses.asdict(self.recipe),
            "lr": self.lr,
            "aux_weight": self.aux_weight,
            "label_smoothing": self.label_smoothing,
            "ema_decay": self.ema_decay,
            "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.world,
            "global_batch_size": self.config.batch_size * self.world,
            "device": str(self.device),
            "train_images": len(self.train_set),
            "val_images": len(self.val_set),
            "classes": self.classes,
            "preprocessing": dataclasses.asdict(self.model.preprocessing),
            "torch": torch.__version__,
        }
        text = json.dumps({"config": dataclasses.asdict(self.config), "resolved": resolved}, indent=2)
        (self.output / "config.json").write_text(text)

    def _loader(self, dataset, sampler, batch_size, *, seed, drop_last=False) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=self.config.workers,
            collate_fn=collate_skipping,
            pin_memory=self.device.type == "cuda",
            drop_last=drop_last,
            generator=torch.Generator().manual_seed(seed),  # worker seeds: a function of (seed, epoch)
            persistent_workers=False,
        )

    def _train_epoch(self) -> dict:
        from tqdm import tqdm

        config, device = self.config, self.device
        sampler = DistributedSampler(self.train_set, self.world, self.rank, shuffle=True, seed=config.seed)
        sampler.set_epoch(self.epoch)
        skip = self.batch * config.batch_size
        loader = self._loader(
            self.train_set,
            _SkipFirst(sampler, skip) if skip else sampler,
            config.batch_size,
            seed=(config.seed * 100_003 + self.epoch) * 1009 + self.rank,
            drop_last=True,
        )
        self.model.train()
        if config.freeze_bn:
            for norm in self._batch_norms():
                norm.eval()  # normalise with the stored statistics and leave them alone
        autocast = self._autocast()
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = seen = skipped = 0
        started = time.perf_counter()
        interactive = self.rank == 0 and sys.stderr.isatty()
        bar = tqdm(
            loader,
            total=self.steps_per_epoch,
            initial=self.batch,
            disable=not interactive,
            desc=f"epoch {self.epoch + 1}/{config.epochs}",
            dynamic_ncols=True,
            leave=False,
        )
        for images, targets, unreadable in bar:
            for item in unreadable:
                log.warning("skipped an unreadable image: %s (%s)", item.path, item.error)
            self.unreadable += [u.path for u in unreadable]
            skipped += len(unreadable)
            if self._any_rank(images is None or len(images) < 2):  # batch norm needs two; every rank skips
                self.batch += 1
                continue
            images = images.to(device, non_blocking=True)
            targets = targets.to(device, non_blocking=True)
            if config.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with autocast:
                logits, *aux = self.step_module(images)
                loss = inception_loss(
                    TrainOutput(logits, list(aux)),
                    targets,
                    aux_weight=self.aux_weight,
                    label_smoothing=self.label_smoothing,
                )
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
            loss_sum += loss.detach().double().cpu() * len(images)
            correct += int((logits.argmax(dim=1) == targets).sum())
            seen += len(images)
            rate = seen * self.world / (time.perf_counter() - started)
            if interactive:
                bar.set_postfix(
                    loss=f"{loss_sum.item() / seen:.4f}", acc=f"{100 * correct / seen:.1f}%", img_s=f"{rate:.0f}"
                )
            elif self.rank == 0 and self.batch % max(1, self.steps_per_epoch // 5) == 0:
                log.info(
                    "epoch %d/%d  batch %d/%d  loss %.4f  acc %.1f%%  %.0f img/s",
                    self.epoch + 1,
                    config.epochs,
                    self.batch,
                    self.steps_per_epoch,
                    loss_sum.item() / seen,
                    100 * correct / seen,
                    rate,
                )
            if self._any_rank(self.stop_requested):
                self._save_checkpoint()
                raise Interrupted(
                    f"interrupted: saved {self.output / 'last.pt'} at epoch {self.epoch + 1}, batch {self.batch}; "
                    f"continue with --resume {self.output / 'last.pt'}"
                )
        bar.close()
        totals = torch.tensor([loss_sum.item(), correct, seen, skipped], dtype=torch.float64)
        if self.world > 1:
            dist.all_reduce(totals)
        loss_total, correct, seen, skipped = totals.tolist()
        return {
            "epoch": self.epoch + 1,
            "step": self.step,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": loss_total / max(seen, 1),
            "train_top1": 100 * correct / max(seen, 1),
            "images_per_s": seen / (time.perf_counter() - started),
            "skipped": int(skipped),
        }

    def _validate(self) -> dict:
        row = self._evaluate(self.eval_model, "val")
        if self.ema is not None:
            row |= self._evaluate(self.ema.module, "ema_val")
        return row

    def _evaluate(self, model: nn.Module, prefix: str) -> dict:
        """Each process evaluates every world-th image; the sums are merged, so the numbers are exact."""
        shard = torch.utils.data.Subset(self.val_set, range(self.rank, len(self.val_set), self.world))
        loader = self._loader(shard, None, self.config.batch_size, seed=self.config.seed)
        model.eval()
        tally = Tally(len(self.classes))
        evaluate_batches(model, loader, tally, device=self.device, autocast=self._autocast())
        if self.world > 1:
            tally.all_reduce()
        result = tally.result()
        return {f"{prefix}_loss": result.loss, f"{prefix}_top1": result.top1, f"{prefix}_top5": result.top5}

    def _end_epoch(self, row: dict) -> None:
        from ..weights import save_weights

        self.metrics.append(row)
        improved = row["val_top1"] > self.best_top1
        if improved:
            self.best_top1 = row["val_top1"]
            save_weights(self.model, self.output / "best.safetensors")
        self._save_checkpoint()
        self.report.record(row, self.metrics)
        log.info(
            "epoch %d/%d  train loss %.4f top-1 %.2f%%  val loss %.4f top-1 %.2f%% top-5 %.2f%%  %.0f img/s%s",
            row["epoch"],
            self.config.epochs,
            row["train_loss"],
            row["train_top1"],
            row["val_loss"],
            row["val_top1"],
            row["val_top5"],
            row["images_per_s"],
            "  (best)" if improved else "",
        )

    def _batch_norms(self) -> list[nn.Module]:
        return [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    # -- safety ------------------------------------------------------------------------------------

    def _autocast(self):
        if self.config.amp is None:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _check_finite(self, loss: torch.Tensor) -> None:
        if self._any_rank(not torch.isfinite(loss.detach()).item()):
            raise TrainingDiverged(
                f"the loss became {loss.item()} (on this process) at epoch {self.epoch + 1}, "
                f"batch {self.batch + 1}: stopped. "
                f"The last good state is {self.output / 'last.pt'} (if an epoch finished); try a lower --lr, "
                "--recipe default (warmup), or look for broken images"
            )

    def _request_stop(self, signum, frame) -> None:
        if self.stop_requested:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.stop_requested = True
        if self.rank == 0:
            log.warning("Ctrl-C: saving a checkpoint after this batch (press again to stop at once)")

    def _any_rank(self, flag: bool) -> bool:
        """True on every process if it is true on one: decisions that skip or stop a step must be shared."""
        if self.world == 1:
            return flag
        shared = torch.tensor(float(flag))
        dist.all_reduce(shared, op=dist.ReduceOp.MAX)
        return bool(shared)

    # -- checkpoints -------------------------------------------------------------------------------

    def _save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        state = {
            "format": CHECKPOINT_FORMAT,
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
            "rng": _rng_state(),
        }
        path = self.output / "last.pt"
        tmp = path.with_name(".last.pt.part")
        torch.save(state, tmp)
        os.replace(tmp, path)  # killed at any moment, last.pt is the old or the new checkpoint, whole

    def _restore(self, checkpoint: dict) -> None:
        if checkpoint["classes"] != self.classes:
            raise ValueError(
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
        _set_rng_state(checkpoint["rng"])


def _read_checkpoint(path: str | os.PathLike) -> dict:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # a truncated or foreign file: say so, touch nothing
        raise ValueError(f"{path} is not a readable training checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a training checkpoint of ours (a last.pt written by 'inception-zoo train')")
    return checkpoint


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    with contextlib.suppress(ImportError):
        import numpy as np

        np.random.seed(seed % 2**32)


def _rng_state() -> dict:
    import numpy as np

    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict) -> None:
    import numpy as np

    random.setstate(state["python"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype("uint32"), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _cpu_has_bf16() -> bool:
    """AVX512-BF16 or AMX (torch's own probes; private, so a missing probe counts as 'has it')."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    probes = [probe for probe in probes if probe is not None]
    return not probes or any(probe() for probe in probes)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
