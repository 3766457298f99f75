"""Inception-ResNet-v2.

"Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
Szegedy et al., arXiv 1602.07261, Figs. 15-18. The network of TF-slim's checkpoint (widths
320 / 1088 / 2080, 10 / 20 / 10 residual blocks), as timm and Cadene's pretrainedmodels ship
it: loads their ``inception_resnet_v2`` / ``inceptionresnetv2`` checkpoints. The paper's own
widths (1154, 2048) do not add up; docs/architectures.md tells the whole story.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

from torch import nn

from ..layers import Branches, ConvFactory, ConvNormAct, InceptionResidual, avg_pool_3x3, tf_slim_stem
from ._base import InceptionNet, refuse_side_classifier
from ._metadata import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Preprocessing, WeightEntry, timm_weights
from ._registry import register_model
from .inception_v4 import INCEPTION_V4_PAPER


class Mixed5b(Branches):
    """The stem's last module (slim's Mixed_5b; the paper's Fig. 3 stem is not what was released)."""

    def __init__(self, *, conv: ConvFactory):
        super().__init__(
            conv(192, 96, 1),
            nn.Sequential(conv(192, 48, 1), conv(48, 64, 5, padding="same")),
            nn.Sequential(conv(192, 64, 1), conv(64, 96, 3, padding="same"), conv(96, 96, 3, padding="same")),
            nn.Sequential(avg_pool_3x3(), conv(192, 64, 1)),
        )


class Block35(InceptionResidual):
    """35x35 residual block, Inception-ResNet-A (Fig. 16)."""

    def __init__(self, *, conv: ConvFactory, scale: float):
        super().__init__(
            conv(320, 32, 1),
            nn.Sequential(conv(320, 32, 1), conv(32, 32, 3, padding="same")),
            nn.Sequential(conv(320, 32, 1), conv(32, 48, 3, padding="same"), conv(48, 64, 3, padding="same")),
            concat_chs=128,
            out_chs=320,
            scale=scale,
        )


class Mixed6a(Branches):
    """Reduction-A, 35x35 -> 17x17, with k, l, m, n = 256, 256, 384, 384 (Fig. 7, Table 1)."""

    def __init__(self, *, conv: ConvFactory):
        super().__init__(
            conv(320, 384, 3, stride=2),
            nn.Sequential(conv(320, 256, 1), conv(256, 256, 3, padding="same"), conv(256, 384, 3, stride=2)),
            nn.MaxPool2d(3, stride=2),
        )


class Block17(InceptionResidual):
    """17x17 residual block, Inception-ResNet-B (Fig. 17)."""

    def __init__(self, *, conv: ConvFactory, scale: float):
        super().__init__(
            conv(1088, 192, 1),
            nn.Sequential(
                conv(1088, 128, 1), conv(128, 160, (1, 7), padding="same"), conv(160, 192, (7, 1), padding="same")
            ),
            concat_chs=384,
            out_chs=1088,
            scale=scale,
        )


class Mixed7a(Branches):
    """Reduction-B, 17x17 -> 8x8 (Fig. 18; its caption says "v1" but it is v2's block)."""

    def __init__(self, *, conv: ConvFactory):
        super().__init__(
            nn.Sequential(conv(1088, 256, 1), conv(256, 384, 3, stride=2)),
            nn.Sequential(conv(1088, 256, 1), conv(256, 288, 3, stride=2)),
            nn.Sequential(conv(1088, 256, 1), conv(256, 288, 3, padding="same"), conv(288, 320, 3, stride=2)),
            nn.MaxPool2d(3, stride=2),
        )


class Block8(InceptionResidual):
    """8x8 residual block, Inception-ResNet-C (Fig. 19)."""

    def __init__(self, *, conv: ConvFactory, scale: float, act: bool = True):
        super().__init__(
            conv(2080, 192, 1),
            nn.Sequential(
                conv(2080, 192, 1), conv(192, 224, (1, 3), padding="same"), conv(224, 256, (3, 1), padding="same")
            ),
            concat_chs=448,
            out_chs=2080,
            scale=scale,
            act=act,
        )


class InceptionResNetV2(InceptionNet):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.2,
        aux_logits: bool = False,
        small_input: bool = False,
    ):
        refuse_side_classifier("inception_resnet_v2", aux_logits)
        conv: ConvFactory = partial(ConvNormAct, norm_eps=1e-3)
        stem = tf_slim_stem(in_chans, conv)
        stem["MaxPool_5a_3x3"] = nn.MaxPool2d(3, stride=2)
        stem["Mixed_5b"] = Mixed5b(conv=conv)
        # N x 320 x 35 x 35
        # NOTE: the paper gives only "scales between 0.1 and 0.3"; 0.17 / 0.10 / 0.20 are slim's.
        blocks = OrderedDict((f"block35_{i}", Block35(conv=conv, scale=0.17)) for i in range(1, 11))
        blocks["Mixed_6a"] = Mixed6a(conv=conv)
        # N x 1088 x 17 x 17
        blocks.update((f"block17_{i}", Block17(conv=conv, scale=0.10)) for i in range(1, 21))
        blocks["Mixed_7a"] = Mixed7a(conv=conv)
        # N x 2080 x 8 x 8
        blocks.update((f"block8_{i}", Block8(conv=conv, scale=0.20)) for i in range(1, 10))
        blocks["block8_10"] = Block8(conv=conv, scale=1.0, act=False)
        blocks["Conv2d_7b_1x1"] = conv(2080, 1536, 1)
        # N x 1536 x 8 x 8
        super().__init__(
            stem=stem,
            blocks=blocks,
            num_features=1536,
            num_classes=num_classes,
            in_chans=in_chans,
            drop_rate=drop_rate,
            min_input_size=7 if small_input else 75,
            small_input=small_input,
        )


WEIGHTS = (
    timm_weights("inception_resnet_v2.tf_in1k", 80.434, 95.312),
    timm_weights("inception_resnet_v2.tf_ens_adv_in1k", 79.998, 94.940),
    WeightEntry(
        tag="cadene:imagenet",
        # NOTE: served over http only (data.lip6.fr's https certificate expired in 2022); the SHA-256
        # prefix in its name is checked.
        url="http://data.lip6.fr/cadene/pretrainedmodels/inceptionresnetv2-520b38e4.pth",
        preprocessing=dict(crop_pct=0.875),
        notes="TF-slim's 1001-class head; the background class is dropped on load",
        top1=80.170,
        top5=95.234,
        metrics_source="Cadene pretrainedmodels README",
    ),
)

register_model(
    "inception_resnet_v2",
    InceptionResNetV2,
    ModelCard(
        paper=INCEPTION_V4_PAPER,
        preprocessing=Preprocessing(
            input_size=(3, 299, 299), crop_pct=0.8975, interpolation="bicubic", mean=INCEPTION_MEAN, std=INCEPTION_STD
        ),
        references=("timm inception_resnet_v2", "Cadene inceptionresnetv2"),
        notes="as released: 10 x A, 20 x B, 10 x C residual blocks",
        weights=WEIGHTS,
    ),
)
