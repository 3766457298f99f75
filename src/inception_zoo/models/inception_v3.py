"""Inception-v3.

"Rethinking the Inception Architecture for Computer Vision", Szegedy et al., arXiv 1512.00567.
The network of TF-slim's checkpoint, as torchvision and timm ship it: loads their
``inception_v3`` checkpoints with and without the side classifier.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

from torch import nn

from ..layers import Branches, ConvFactory, ConvNormAct, InceptionV3Aux, avg_pool_3x3, split_1x3_3x1, tf_slim_stem
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
    timm_weights,
)
from ._registry import register_model

RETHINKING = Paper("Rethinking the Inception Architecture for Computer Vision", "1512.00567")


class InceptionA(Branches):
    """35x35 module (Fig. 5 of the paper; see docs/architectures.md for the 5x5 branch)."""

    def __init__(self, in_chs: int, pool_features: int, *, conv: ConvFactory, count_include_pad: bool):
        super().__init__(
            conv(in_chs, 64, 1),
            nn.Sequential(conv(in_chs, 48, 1), conv(48, 64, 5, padding="same")),
            nn.Sequential(conv(in_chs, 64, 1), conv(64, 96, 3, padding="same"), conv(96, 96, 3, padding="same")),
            nn.Sequential(avg_pool_3x3(count_include_pad), conv(in_chs, pool_features, 1)),
        )


class InceptionB(Branches):
    """Grid reduction 35x35 -> 17x17 (Fig. 10)."""

    def __init__(self, in_chs: int, *, conv: ConvFactory):
        super().__init__(
            conv(in_chs, 384, 3, stride=2),
            nn.Sequential(conv(in_chs, 64, 1), conv(64, 96, 3, padding="same"), conv(96, 96, 3, stride=2)),
            nn.MaxPool2d(3, stride=2),
        )


class InceptionC(Branches):
    """17x17 module with factorised 7x7 convolutions (Fig. 6, n = 7)."""

    def __init__(self, in_chs: int, c7: int, *, conv: ConvFactory, count_include_pad: bool):
        super().__init__(
            conv(in_chs, 192, 1),
            nn.Sequential(
                conv(in_chs, c7, 1), conv(c7, c7, (1, 7), padding="same"), conv(c7, 192, (7, 1), padding="same")
            ),
            nn.Sequential(
                conv(in_chs, c7, 1),
                conv(c7, c7, (7, 1), padding="same"),
                conv(c7, c7, (1, 7), padding="same"),
                conv(c7, c7, (7, 1), padding="same"),
                conv(c7, 192, (1, 7), padding="same"),
            ),
            nn.Sequential(avg_pool_3x3(count_include_pad), conv(in_chs, 192, 1)),
        )


class InceptionD(Branches):
    """Grid reduction 17x17 -> 8x8."""

    def __init__(self, in_chs: int, *, conv: ConvFactory):
        super().__init__(
            nn.Sequential(conv(in_chs, 192, 1), conv(192, 320, 3, stride=2)),
            nn.Sequential(
                conv(in_chs, 192, 1),
                conv(192, 192, (1, 7), padding="same"),
                conv(192, 192, (7, 1), padding="same"),
                conv(192, 192, 3, stride=2),
            ),
            nn.MaxPool2d(3, stride=2),
        )


class InceptionE(Branches):
    """8x8 module with expanded filter banks (Fig. 7); ``max_pool``: the pooling branch max-pools (the
    2015 TensorFlow graph's last module, which FID is computed with)."""

    def __init__(self, in_chs: int, *, conv: ConvFactory, count_include_pad: bool, max_pool: bool = False):
        pool = nn.MaxPool2d(3, stride=1, padding=1) if max_pool else avg_pool_3x3(count_include_pad)
        super().__init__(
            conv(in_chs, 320, 1),
            nn.Sequential(conv(in_chs, 384, 1), split_1x3_3x1(384, 384, conv)),
            nn.Sequential(conv(in_chs, 448, 1), conv(448, 384, 3, padding="same"), split_1x3_3x1(384, 384, conv)),
            nn.Sequential(pool, conv(in_chs, 192, 1)),
        )


class InceptionV3(InceptionNet):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.2,
        aux_logits: bool = False,
        count_include_pad: bool = True,
        last_max_pool: bool = False,
        small_input: bool = False,
    ):
        conv: ConvFactory = partial(ConvNormAct, norm_eps=1e-3)
        # NOTE: TensorFlow's 3x3 average pools exclude the padding; torchvision and timm include
        # it (PyTorch's default), and so do we by default, to give their logits exactly.
        # count_include_pad=False is TensorFlow's arithmetic (docs/architectures.md).
        pools = dict(count_include_pad=count_include_pad)
        stem = tf_slim_stem(in_chans, conv)
        stem["MaxPool_5a_3x3"] = nn.MaxPool2d(3, stride=2)
        blocks = OrderedDict(
            # N x 192 x 35 x 35
            Mixed_5b=InceptionA(192, 32, conv=conv, **pools),
            Mixed_5c=InceptionA(256, 64, conv=conv, **pools),
            Mixed_5d=InceptionA(288, 64, conv=conv, **pools),
            # N x 288 x 35 x 35
            Mixed_6a=InceptionB(288, conv=conv),
            Mixed_6b=InceptionC(768, 128, conv=conv, **pools),
            Mixed_6c=InceptionC(768, 160, conv=conv, **pools),
            Mixed_6d=InceptionC(768, 160, conv=conv, **pools),
            Mixed_6e=InceptionC(768, 192, conv=conv, **pools),
            # N x 768 x 17 x 17
            Mixed_7a=InceptionD(768, conv=conv),
            Mixed_7b=InceptionE(1280, conv=conv, **pools),
            Mixed_7c=InceptionE(2048, conv=conv, max_pool=last_max_pool, **pools),
            # N x 2048 x 8 x 8
        )
        aux = {"Mixed_6e": InceptionV3Aux(768, num_classes, conv=conv)} if aux_logits else None
        super().__init__(
            stem=stem,
            blocks=blocks,
            num_features=2048,
            num_classes=num_classes,
            in_chans=in_chans,
            drop_rate=drop_rate,
            min_input_size=7 if small_input else 75,
            small_input=small_input,
            aux_heads=aux,
        )


WEIGHTS = (
    timm_weights("inception_v3.tf_in1k", 77.866, 93.644),
    WeightEntry(
        tag="torchvision:IMAGENET1K_V1",
        url="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
        # transform_input turns ImageNet-normalised input into [-1, 1]: mean = std = 0.5, as the card says.
        preprocessing=dict(crop_pct=299 / 342, interpolation="bilinear"),
        top1=77.294,
        top5=93.450,
        metrics_source="torchvision Inception_V3_Weights.IMAGENET1K_V1 (ported from TF-slim, with the side head)",
    ),
    timm_weights("inception_v3.tv_in1k", 77.472, 93.468),
    timm_weights("inception_v3.tf_adv_in1k", 77.598, 93.726),
    timm_weights("inception_v3.gluon_in1k", 78.806, 94.372, preprocessing=dict(mean=IMAGENET_MEAN, std=IMAGENET_STD)),
)

register_model(
    "inception_v3",
    InceptionV3,
    ModelCard(
        paper=RETHINKING,
        preprocessing=Preprocessing(
            input_size=(3, 299, 299), crop_pct=0.875, interpolation="bicubic", mean=INCEPTION_MEAN, std=INCEPTION_STD
        ),
        references=("torchvision inception_v3", "timm inception_v3"),
        aux_loss_weight=0.4,
        weights=WEIGHTS,
    ),
)


# The network FID, KID and the Inception Score are computed with: the 2015-12-05 TensorFlow graph
# (1008 classes) as pytorch-fid and torch-fidelity port it. Its 3x3 average pools leave the padding
# out (TensorFlow's SAME pooling), and the last module's pooling branch max-pools.
FID_GRAPH = "the 2015-12-05 TensorFlow Inception graph behind FID (1008 outputs; not ImageNet-1k classes)"

register_model(
    "fid_inception_v3",
    InceptionV3,
    ModelCard(
        paper=RETHINKING,
        preprocessing=Preprocessing(
            input_size=(3, 299, 299), crop_pct=1.0, interpolation="bilinear", mean=INCEPTION_MEAN, std=INCEPTION_STD
        ),
        references=("pytorch-fid InceptionV3", "torch-fidelity inception-v3-compat"),
        weights=(
            WeightEntry(
                tag="pytorch-fid:2015-12-05",
                url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
                num_classes=1008,
                labels="none",
                notes=FID_GRAPH,
            ),
            WeightEntry(
                tag="torch-fidelity:2015-12-05",
                url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
                num_classes=1008,
                labels="none",
                notes=FID_GRAPH,
            ),
        ),
    ),
    defaults=dict(num_classes=1008),
    count_include_pad=False,
    last_max_pool=True,
)
