"""GoogLeNet (Inception-v1).

"Going Deeper with Convolutions", Szegedy et al., arXiv 1409.4842, Table 1 and Fig. 3.
Two networks:

- ``googlenet``: torchvision's network (BatchNorm after every conv, 3x3 convs where the
  paper's branch has 5x5, a 2x2 last max-pool), the one TF-slim's checkpoint was trained as.
  Loads torchvision's ``googlenet`` checkpoints.
- ``googlenet_paper``: the paper's network as Caffe's reference model ``bvlc_googlenet`` builds
  it (no BatchNorm, local response normalisation, 5x5 branch, 3x3 max-pools, dropout 0.4, side
  classifiers with a 5x5/3 average pool). Like that model its first conv is a dense 7x7;
  Table 1's 2.7K parameters and 34M ops for it are a separable 7x7 with depth multiplier 8
  [E18].
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import partial

from torch import nn

from ..layers import AvgPoolClipped, Branches, ConvFactory, ConvNormAct, GoogLeNetAux
from ._base import InceptionNet
from ._metadata import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    INCEPTION_MEAN,
    INCEPTION_STD,
    ModelCard,
    Paper,
    Preprocessing,
    WeightEntry,
)
from ._registry import register_model

GOING_DEEPER = Paper("Going Deeper with Convolutions", "1409.4842")


@dataclass(frozen=True)
class InceptionRow:
    """One row of Table 1: the output widths of an Inception module's branches."""

    ch1x1: int
    ch3x3_reduce: int
    ch3x3: int
    ch5x5_reduce: int
    ch5x5: int
    pool_proj: int

    @property
    def out_chs(self) -> int:
        return self.ch1x1 + self.ch3x3 + self.ch5x5 + self.pool_proj


TABLE_1 = {
    "3a": InceptionRow(ch1x1=64, ch3x3_reduce=96, ch3x3=128, ch5x5_reduce=16, ch5x5=32, pool_proj=32),
    "3b": InceptionRow(ch1x1=128, ch3x3_reduce=128, ch3x3=192, ch5x5_reduce=32, ch5x5=96, pool_proj=64),
    "4a": InceptionRow(ch1x1=192, ch3x3_reduce=96, ch3x3=208, ch5x5_reduce=16, ch5x5=48, pool_proj=64),
    "4b": InceptionRow(ch1x1=160, ch3x3_reduce=112, ch3x3=224, ch5x5_reduce=24, ch5x5=64, pool_proj=64),
    "4c": InceptionRow(ch1x1=128, ch3x3_reduce=128, ch3x3=256, ch5x5_reduce=24, ch5x5=64, pool_proj=64),
    "4d": InceptionRow(ch1x1=112, ch3x3_reduce=144, ch3x3=288, ch5x5_reduce=32, ch5x5=64, pool_proj=64),
    "4e": InceptionRow(ch1x1=256, ch3x3_reduce=160, ch3x3=320, ch5x5_reduce=32, ch5x5=128, pool_proj=128),
    "5a": InceptionRow(ch1x1=256, ch3x3_reduce=160, ch3x3=320, ch5x5_reduce=32, ch5x5=128, pool_proj=128),
    "5b": InceptionRow(ch1x1=384, ch3x3_reduce=192, ch3x3=384, ch5x5_reduce=48, ch5x5=128, pool_proj=128),
}


class Inception(Branches):
    """The Inception module with dimension reductions (Fig. 2b)."""

    def __init__(self, in_chs: int, row: InceptionRow, *, conv: ConvFactory, kernel_5x5: int):
        super().__init__(
            conv(in_chs, row.ch1x1, 1),
            nn.Sequential(conv(in_chs, row.ch3x3_reduce, 1), conv(row.ch3x3_reduce, row.ch3x3, 3, padding="same")),
            nn.Sequential(
                conv(in_chs, row.ch5x5_reduce, 1), conv(row.ch5x5_reduce, row.ch5x5, kernel_5x5, padding="same")
            ),
            nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), conv(in_chs, row.pool_proj, 1)),
        )


@dataclass(frozen=True)
class Variant:
    """Where torchvision's released GoogLeNet departs from the paper's."""

    norm_eps: float | None  # None: no BatchNorm, convs with biases
    lrn: bool  # local response normalisation after the first pool and after conv3
    kernel_5x5: int  # the "5x5" branch's kernel
    pool4_kernel: int  # the max-pool between 4e and 5a
    aux_pool: type[nn.Module] | None  # the side heads' 5x5/3 average pool, if any, before pooling to 4x4
    drop_rate: float
    min_input_size: int  # the smallest input every pool still has a window for
    min_small_input_size: int  # the same with small_input=True


TORCHVISION = Variant(
    norm_eps=1e-3, lrn=False, kernel_5x5=3, pool4_kernel=2, aux_pool=None, drop_rate=0.2, min_input_size=15,
    min_small_input_size=2,
)  # fmt: skip
PAPER = Variant(
    norm_eps=None, lrn=True, kernel_5x5=5, pool4_kernel=3, aux_pool=AvgPoolClipped, drop_rate=0.4, min_input_size=31,
    min_small_input_size=4,
)  # fmt: skip


def max_pool_3x3_s2() -> nn.MaxPool2d:
    # ceil_mode reproduces Caffe's and TensorFlow's SAME output sizes (112 -> 56 -> 28 -> 14 -> 7).
    return nn.MaxPool2d(3, stride=2, ceil_mode=True)


def local_response_norm() -> nn.LocalResponseNorm:
    # The values of the paper's Caffe model (bvlc_googlenet): size 5, alpha 1e-4, beta 0.75.
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)


class GoogLeNet(InceptionNet):
    def __init__(
        self,
        *,
        variant: Variant,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float | None = None,
        aux_logits: bool = False,
        small_input: bool = False,
    ):
        conv: ConvFactory = partial(ConvNormAct, norm_eps=variant.norm_eps)

        def inception(name: str, in_chs: int) -> Inception:
            return Inception(in_chs, TABLE_1[name], conv=conv, kernel_5x5=variant.kernel_5x5)

        stem = OrderedDict(
            # NOTE [E18]: dense, as bvlc_googlenet and TF-slim; Table 1's counts are a separable 7x7.
            conv1=conv(in_chans, 64, 7, stride=2, padding=3),
            maxpool1=max_pool_3x3_s2(),
            norm1=local_response_norm(),
            conv2=conv(64, 64, 1),
            conv3=conv(64, 192, 3, padding="same"),
            norm2=local_response_norm(),
            maxpool2=max_pool_3x3_s2(),
        )
        if not variant.lrn:
            del stem["norm1"], stem["norm2"]
        blocks = OrderedDict(
            # N x 192 x 28 x 28
            inception3a=inception("3a", 192),
            inception3b=inception("3b", 256),
            maxpool3=max_pool_3x3_s2(),
            # N x 480 x 14 x 14
            inception4a=inception("4a", 480),
            inception4b=inception("4b", 512),
            inception4c=inception("4c", 512),
            inception4d=inception("4d", 512),
            inception4e=inception("4e", 528),
            maxpool4=nn.MaxPool2d(variant.pool4_kernel, stride=2, ceil_mode=True),
            # N x 832 x 7 x 7
            inception5a=inception("5a", 832),
            inception5b=inception("5b", 832),
            # N x 1024 x 7 x 7
        )
        aux = None
        if aux_logits:
            # NOTE: the paper pools 5x5/3 (14x14 -> 4x4); torchvision pools adaptively to 4x4.
            # Both end at 4x4, so any input size works.
            def pool() -> nn.Module:
                to_4x4 = nn.AdaptiveAvgPool2d(4)
                return nn.Sequential(variant.aux_pool(5, 3, ceil_mode=True), to_4x4) if variant.aux_pool else to_4x4

            aux = {
                "inception4a": GoogLeNetAux(512, num_classes, pool=pool(), conv=conv),
                "inception4d": GoogLeNetAux(528, num_classes, pool=pool(), conv=conv),
            }
        super().__init__(
            stem=stem,
            blocks=blocks,
            num_features=1024,
            num_classes=num_classes,
            in_chans=in_chans,
            drop_rate=variant.drop_rate if drop_rate is None else drop_rate,
            min_input_size=variant.min_small_input_size if small_input else variant.min_input_size,
            small_input=small_input,
            aux_heads=aux,
        )


TORCHVISION_WEIGHTS = WeightEntry(
    tag="torchvision:IMAGENET1K_V1",
    url="https://download.pytorch.org/models/googlenet-1378be20.pth",
    preprocessing=dict(crop_pct=224 / 256, interpolation="bilinear"),
    top1=69.778,
    top5=89.530,
    metrics_source="torchvision GoogLeNet_Weights.IMAGENET1K_V1 (ported from TF-slim's inception_v1)",
)

register_model(
    "googlenet",
    GoogLeNet,
    ModelCard(
        paper=GOING_DEEPER,
        # torchvision's weights come from TensorFlow: its transform_input turns ImageNet-normalised
        # input into the [-1, 1] range they expect, which is the same as mean = std = 0.5.
        preprocessing=Preprocessing(
            input_size=(3, 224, 224), crop_pct=0.875, interpolation="bilinear", mean=INCEPTION_MEAN, std=INCEPTION_STD
        ),
        references=("torchvision googlenet",),
        aux_loss_weight=0.3,
        notes="torchvision's network: BatchNorm, 3x3 where the paper has 5x5",
        weights=(TORCHVISION_WEIGHTS,),
    ),
    variant=TORCHVISION,
)

register_model(
    "googlenet_paper",
    GoogLeNet,
    ModelCard(
        paper=GOING_DEEPER,
        preprocessing=Preprocessing(
            input_size=(3, 224, 224), crop_pct=0.875, interpolation="bilinear", mean=IMAGENET_MEAN, std=IMAGENET_STD
        ),
        aux_loss_weight=0.3,
        notes="the paper's network as Caffe's bvlc_googlenet builds it: LRN, no BatchNorm, 5x5 branch, dense 7x7 "
        "first conv; no released PyTorch weights",
    ),
    variant=PAPER,
)
