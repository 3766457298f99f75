"""What the two residual experiments share: the data, the networks, one training run, the collapse test.

The networks are small residual and plain Inceptions for 32x32 grey digits, built only from the
library's layers (``ConvNormAct``, ``Branches``, ``InceptionResidual`` with its ``scale``,
``ClassifierHead``) and trained with the Inception-v4 paper's recipe from ``train.recipes``
(TensorFlow's RMSProp, decay 0.9, momentum 0.9, eps 1.0, lr x0.94 every 2 epochs).

The data are scikit-learn's 1,797 handwritten digits (``DigitsDataset``, the ``make demo`` data:
no download), upscaled to 32x32, with a random affine jitter on every training batch so that
the task does not saturate within a few epochs.
"""

from __future__ import annotations

import functools
import json
import math
import platform
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from inception_zoo.data.datasets import DigitsDataset
from inception_zoo.layers import Branches, ClassifierHead, ConvNormAct, InceptionResidual
from inception_zoo.train import RECIPES, build_optimizer, lr_factor

NUM_CLASSES = 10
CHANCE = 100 / NUM_CLASSES  # top-1 accuracy of guessing, in %


# -- data --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digits:
    """The digits as tensors, normalised with the training set's mean and std."""

    train_x: torch.Tensor  # N x 1 x 32 x 32
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


@functools.cache
def load_digits(size: int = 32) -> Digits:
    def tensors(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        data = DigitsDataset(split, size=size)  # the library's fixed 80/20 split
        images = [np.asarray(data[i][0].convert("L"), dtype=np.float32) / 255 for i in range(len(data))]
        labels = [data[i][1] for i in range(len(data))]
        return torch.from_numpy(np.stack(images))[:, None], torch.tensor(labels)

    train_x, train_y = tensors("train")
    val_x, val_y = tensors("val")
    mean, std = train_x.mean(), train_x.std()
    return Digits((train_x - mean) / std, train_y, (val_x - mean) / std, val_y)


def jitter(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random affine warp per image: rotation +-12 degrees, scale 0.9-1.1, shift +-2 pixels."""
    n = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    angle = uniform(-12, 12) * math.pi / 180
    scale = uniform(0.9, 1.1)
    shift = uniform(-2, 2) / (images.shape[-1] / 2), uniform(-2, 2) / (images.shape[-2] / 2)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[0]], 1), torch.stack([sin, cos, shift[1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    background = images.amin()  # the normalised value of a white (empty) pixel
    return F.grid_sample(images - background, grid, align_corners=False) + background


# -- networks ----------------------------------------------------------------------------------


def inception_branches(chs: int) -> list[nn.Module]:
    """The three towers of an Inception-ResNet-A block (Fig. 10 of the Inception-v4 paper), widths
    scaled to ``chs``: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3; they concatenate to ``chs`` channels."""
    q = chs // 4
    return [
        ConvNormAct(chs, q, 1),
        nn.Sequential(ConvNormAct(chs, q, 1), ConvNormAct(q, q, 3, padding="same")),
        nn.Sequential(
            ConvNormAct(chs, q, 1),
            ConvNormAct(q, 3 * chs // 8, 3, padding="same"),
            ConvNormAct(3 * chs // 8, chs // 2, 3, padding="same"),
        ),
    ]


def residual_block(chs: int, scale: float) -> InceptionResidual:
    """``relu(x + scale * project(concat(towers(x))))``: the library's Inception-ResNet block."""
    return InceptionResidual(*inception_branches(chs), concat_chs=chs, out_chs=chs, scale=scale)


def plain_block(chs: int) -> nn.Sequential:
    """The same towers and the same linear 1x1 projection, without the shortcut: ``relu(project(concat(...)))``.
    Its parameters and multiply-adds are the residual block's, to the last one."""
    return nn.Sequential(Branches(*inception_branches(chs)), nn.Conv2d(chs, chs, 1), nn.ReLU(inplace=True))


class SmallInception(nn.Module):
    """stem -> blocks at 16x16 -> reduction -> blocks at 8x8 (twice as wide) -> pool -> linear.

    ``features`` ends at the last block's output, the layer the Inception-v4 paper watched die:
    "the last layer before the average pooling".
    """

    def __init__(self, *, width: int, blocks: int, residual: bool, scale: float = 1.0, in_chans: int = 1):
        super().__init__()

        def block(chs: int) -> nn.Module:
            return residual_block(chs, scale) if residual else plain_block(chs)

        layers: list[nn.Module] = [
            ConvNormAct(in_chans, width // 2, 3, padding="same"),
            ConvNormAct(width // 2, width, 3, stride=2, padding=1),  # 32 -> 16
        ]
        layers += [block(width) for _ in range(blocks)]
        # Grid reduction as in Inception-v4's Reduction-A: a strided conv beside a strided pool.
        layers.append(Branches(ConvNormAct(width, width, 3, stride=2, padding=1), nn.MaxPool2d(3, 2, padding=1)))
        layers += [block(2 * width) for _ in range(blocks)]  # 8x8
        self.features = nn.Sequential(*layers)
        self.head = ClassifierHead(2 * width, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        return self.head(features), features


class WideInception(nn.Module):
    """A wide residual Inception for the scaling experiment: a stem down to 8x8, a 1x1 conv up to
    ``width`` channels, then ``blocks`` residual blocks at that width, pool, linear. (The paper saw
    the instability above 1,000 filters; two CPU cores afford about a hundred, so a higher
    learning rate stands in for the missing width.)"""

    def __init__(self, *, width: int, blocks: int, scale: float, in_chans: int = 1):
        super().__init__()
        layers: list[nn.Module] = [
            ConvNormAct(in_chans, 32, 3, stride=2, padding=1),  # 32 -> 16
            ConvNormAct(32, 64, 3, stride=2, padding=1),  # 16 -> 8
            ConvNormAct(64, width, 1),
        ]
        layers += [residual_block(width, scale) for _ in range(blocks)]
        self.features = nn.Sequential(*layers)
        self.head = ClassifierHead(width, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        return self.head(features), features


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, size: int = 32) -> int:
    """Multiply-adds of one 1 x size x size image (convs and linears, as ``model_info`` counts them)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(torch.zeros(1, 1, size, size))
    model.train()
    return counter.get_total_flops() // 2


# -- one run -----------------------------------------------------------------------------------


@dataclass
class History:
    """What one training run recorded: per logged step, and per evaluation."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # the training batch's loss
    train_top1: list[float] = field(default_factory=list)  # the training batch's accuracy, %
    alive: list[float] = field(default_factory=list)  # fraction of non-zero entries in the last feature map
    feature_rms: list[float] = field(default_factory=list)  # root mean square of that map
    eval_steps: list[int] = field(default_factory=list)
    val_top1: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> tuple[float, float]:
    """Top-1 (%) and mean cross-entropy over a whole set, in eval mode; a non-finite loss stays non-finite."""
    model.eval()
    correct, total_loss = 0, 0.0
    for i in range(0, len(x), batch_size):
        logits, _ = model(x[i : i + batch_size])
        total_loss += F.cross_entropy(logits, y[i : i + batch_size], reduction="sum").item()
        correct += (logits.argmax(1) == y[i : i + batch_size]).sum().item()
    model.train()
    return 100 * correct / len(x), total_loss / len(x)


def batches_forever(n: int, batch_size: int, generator: torch.Generator):
    """Index batches of a new permutation each epoch; an epoch's last, short batch is dropped."""
    while True:
        for index in torch.randperm(n, generator=generator).split(batch_size):
            if len(index) == batch_size:
                yield index


def train_run(
    model: nn.Module,
    data: Digits,
    *,
    steps: int,
    seed: int,
    batch_size: int = 64,
    lr: float | None = None,
    eval_every: int = 25,
    recipe: str = "inception_v4",
) -> History:
    """Train ``model`` for ``steps`` steps with a paper's recipe; record every step, evaluate every ``eval_every``.

    The batches are drawn (and jittered) from a generator seeded by ``seed``, so two models trained
    with one seed see the same images in the same order. A run that reaches a non-finite loss
    stops there: nothing after it can be trained.
    """
    config = RECIPES[recipe]
    lr = config.lr if lr is None else lr
    optimizer = build_optimizer(model, config, lr)
    steps_per_epoch = max(1, len(data.train_x) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(config, s, steps_per_epoch, steps))
    order = torch.Generator().manual_seed(seed)
    batches = batches_forever(len(data.train_x), batch_size, order)
    history = History()
    started = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        index = next(batches)
        images, labels = jitter(data.train_x[index], order), data.train_y[index]
        logits, features = model(images)
        loss = F.cross_entropy(logits, labels)
        history.steps.append(step)
        history.loss.append(loss.item())
        history.train_top1.append(100 * (logits.argmax(1) == labels).float().mean().item())
        history.alive.append((features != 0).float().mean().item())
        history.feature_rms.append(features.float().pow(2).mean().sqrt().item())
        if not math.isfinite(history.loss[-1]):
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % eval_every == 0 or step == steps:
            top1, val_loss = evaluate(model, data.val_x, data.val_y)
            history.eval_steps.append(step)
            history.val_top1.append(top1)
            history.val_loss.append(val_loss)
    history.seconds = time.perf_counter() - started
    return history


# -- collapse ----------------------------------------------------------------------------------

DEAD_BELOW = 1e-3  # "only zeros": fewer than 1 in 1,000 entries of the last feature map are non-zero
DEAD_FOR = 10  # ... at this many consecutive logged steps, and at every later one


@dataclass(frozen=True)
class Collapse:
    step: int | None  # the first step of the collapse; None: the run did not collapse
    kind: str  # "diverged", "died" or "" (none)


def find_collapse(
    steps: Sequence[int],
    loss: Sequence[float],
    alive: Sequence[float],
    *,
    dead_below: float = DEAD_BELOW,
    dead_for: int = DEAD_FOR,
) -> Collapse:
    """When, if ever, a run collapsed, by one of two definitions:

    - **diverged**: the training loss is not finite (NaN or inf) at some step; the collapse step is
      the first such step.
    - **died** (the Inception-v4 paper's section 3.3: "the last layer before the average pooling
      started to produce only zeros"): from some step to the end of the run, at least
      ``dead_for`` logged steps, the fraction of non-zero entries in that layer stays below
      ``dead_below``; the collapse step is the first step of that final dead stretch.
    """
    for s, value in zip(steps, loss, strict=True):
        if not math.isfinite(value):
            return Collapse(s, "diverged")
    dead_from = None
    for s, fraction in zip(steps, alive, strict=True):
        if not math.isfinite(fraction) or fraction >= dead_below:
            dead_from = None
        elif dead_from is None:
            dead_from = s
    if dead_from is not None and sum(1 for s in steps if s >= dead_from) >= dead_for:
        return Collapse(dead_from, "died")
    return Collapse(None, "")


# -- outputs -----------------------------------------------------------------------------------


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """A trailing moving average (the first values average what there is); NaN/inf propagate."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values)
    for i in range(len(values)):
        lo = max(0, i + 1 - window)
        out[i] = (cumulative[i + 1] - cumulative[lo]) / (i + 1 - lo)
    return out


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=1) + "\n")


def history_dict(history: History) -> dict:
    return asdict(history)


def today() -> str:
    return date.today().isoformat()


def configure(threads: int) -> None:
    """The CPU threads to use, deterministic kernels, and denormal floats flushed to zero (a dying
    network's tiny activations would otherwise slow the CPU down by several times)."""
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_flush_denormal(True)


def output_folder(output: str | None, quick: bool) -> Path:
    """Where a run writes: ``--output``, else docs/experiments (the full run) or runs/experiments/quick
    (a quick run, which must not replace the documented results)."""
    root = Path(__file__).resolve().parent.parent
    folder = Path(output) if output else root / ("runs/experiments/quick" if quick else "docs/experiments")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Clock:
    """Wall and CPU seconds since it was made (CPU time / threads estimates an unloaded machine's wall time)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def seconds(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu
