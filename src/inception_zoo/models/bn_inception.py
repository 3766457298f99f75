"""BN-Inception.

"Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate
Shift", Ioffe & Szegedy, arXiv 1502.03167, Fig. 5 (the appendix table). The network of the
Caffe model that Cadene's pretrainedmodels ports as ``bninception``: loads its checkpoints.
Its weights expect BGR input in 0-255 minus a per-channel mean (see ``model_info``).

Where the paper and the Caffe model differ we follow the model [E19]: a dense 7x7 first conv
(the paper's is separable, depth multiplier 8), Fig. 5's rows rather than its output-size
column (4c, 4d give 608 channels, not the printed 576; 4e 7x7x1056, not 14x14x1024), and
11,295,240 parameters where section 4.2 says 13.6M.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import Branches, ConvFactory, ConvNormAct
from ._base import InceptionNet, refuse_side_classifier
from ._metadata import ModelCard, Paper, Preprocessing, WeightEntry
from ._registry import register_model

BATCH_NORM_PAPER = Paper(
    "Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift", "1502.03167"
)


@dataclass(frozen=True)
class InceptionRow:
    """One row of Fig. 5: branch widths, the pooling branch, and the module's stride."""

    ch1x1: int  # 0: no 1x1 branch (the stride-2 modules)
    ch3x3_reduce: int
    ch3x3: int
    double3x3_reduce: int
    double3x3: int
    pool: str  # "avg" or "max"
    pool_proj: int  # 0: the pooled input passes through
    stride: int = 1


FIG_5 = {
    "3a": InceptionRow(64, 64, 64, 64, 96, "avg", 32),
    "3b": InceptionRow(64, 64, 96, 64, 96, "avg", 64),
    "3c": InceptionRow(0, 128, 160, 64, 96, "max", 0, stride=2),
    "4a": InceptionRow(224, 64, 96, 96, 128, "avg", 128),
    "4b": InceptionRow(192, 96, 128, 96, 128, "avg", 128),
    "4c": InceptionRow(160, 128, 160, 128, 160, "avg", 128),
    "4d": InceptionRow(96, 128, 192, 160, 192, "avg", 128),
    "4e": InceptionRow(0, 128, 192, 192, 256, "max", 0, stride=2),
    "5a": InceptionRow(352, 192, 320, 160, 224, "avg", 128),
    "5b": InceptionRow(352, 192, 320, 192, 224, "max", 128),
}


class MaxPoolEvenOdd(nn.Module):
    """3x3/2 max-pool with ceil rounding whose output is ceil(n / 2) for odd n too.

    NOTE: Caffe's ceil-mode pool gives ceil(n / 2) only for even n, while the strided 3x3 convs
    beside it always do, so the Caffe model (and Cadene's port) fails on most input sizes. One
    row and column of -inf on the far side of odd maps fixes it and changes nothing on even maps.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2), value=float("-inf"))
        return F.max_pool2d(x, 3, 2, ceil_mode=True)


class Inception(Branches):
    """The BN-Inception module: the 5x5 branch of GoogLeNet replaced by two 3x3 convs."""

    def __init__(self, in_chs: int, row: InceptionRow, *, conv: ConvFactory):
        s = row.stride
        if s == 1:
            pool = nn.AvgPool2d(3, 1, 1, ceil_mode=True) if row.pool == "avg" else nn.MaxPool2d(3, 1, 1, ceil_mode=True)
        else:
            pool = MaxPoolEvenOdd()
        branches = [
            nn.Sequential(conv(in_chs, row.ch3x3_reduce, 1), conv(row.ch3x3_reduce, row.ch3x3, 3, s, padding=1)),
            nn.Sequential(
                conv(in_chs, row.double3x3_reduce, 1),
                conv(row.double3x3_reduce, row.double3x3, 3, padding=1),
                conv(row.double3x3, row.double3x3, 3, s, padding=1),
            ),
            nn.Sequential(pool, conv(in_chs, row.pool_proj, 1)) if row.pool_proj else pool,
        ]
        if row.ch1x1:
            branches.insert(0, conv(in_chs, row.ch1x1, 1))
        super().__init__(*branches)


class BNInception(InceptionNet):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        aux_logits: bool = False,
        small_input: bool = False,
    ):
        refuse_side_classifier("bn_inception", aux_logits)
        # NOTE: Caffe's convs keep their biases in front of BatchNorm (eps 1e-5); the
        # checkpoint has them, so we do too. Its average pools count the padding (Caffe's).
        conv: ConvFactory = partial(ConvNormAct, norm_eps=1e-5, bias=True)
        stem = OrderedDict(
            # NOTE [E19]: dense, as the Caffe model; the paper's first conv is separable (depth multiplier 8).
            conv1_7x7_s2=conv(in_chans, 64, 7, 2, padding=3),
            pool1_3x3_s2=nn.MaxPool2d(3, 2, ceil_mode=True),
            conv2_3x3_reduce=conv(64, 64, 1),
            conv2_3x3=conv(64, 192, 3, padding=1),
            pool2_3x3_s2=nn.MaxPool2d(3, 2, ceil_mode=True),
        )
        # N x 192 x 28 x 28
        blocks = OrderedDict()
        in_chs = 192
        for name, row in FIG_5.items():
            blocks[f"inception_{name}"] = Inception(in_chs, row, conv=conv)
            in_chs = row.ch1x1 + row.ch3x3 + row.double3x3 + (row.pool_proj or in_chs)
        # N x 1024 x 7 x 7
        super().__init__(
            stem=stem,
            blocks=blocks,
            num_features=1024,
            num_classes=num_classes,
            in_chans=in_chans,
            drop_rate=drop_rate,
            min_input_size=1 if small_input else 7,
            small_input=small_input,
        )


register_model(
    "bn_inception",
    BNInception,
    ModelCard(
        paper=BATCH_NORM_PAPER,
        preprocessing=Preprocessing(
            input_size=(3, 224, 224),
            crop_pct=0.875,
            interpolation="bilinear",
            mean=(104.0, 117.0, 128.0),
            std=(1.0, 1.0, 1.0),
            channel_order="BGR",
            input_range=(0.0, 255.0),
        ),
        references=("Cadene bninception",),
        notes="Inception with BatchNorm and double 3x3 branches, as the Caffe model has it",
        weights=(
            WeightEntry(
                tag="cadene:imagenet",
                # NOTE: served over http only (data.lip6.fr's https certificate expired in 2022); the SHA-256
                # prefix in its name is checked.
                url="http://data.lip6.fr/cadene/pretrainedmodels/bn_inception-52deb4733.pth",
                top1=73.524,
                top5=91.562,
                metrics_source="Cadene pretrainedmodels README (weights from the TSN Caffe model)",
            ),
        ),
    ),
)
