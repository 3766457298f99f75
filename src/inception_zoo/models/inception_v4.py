"""Inception-v4.

"Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
Szegedy et al., arXiv 1602.07261, Figs. 3-9. The network of TF-slim's checkpoint, as timm and
Cadene's pretrainedmodels ship it: loads their ``inception_v4`` / ``inceptionv4`` checkpoints.
Where the figures and the released network disagree we follow the released network; each
place is marked NOTE and told in full in docs/architectures.md.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

from torch import nn

from ..layers import Branches, ConvFactory, ConvNormAct, avg_pool_3x3, split_1x3_3x1
from ._base import InceptionNet, refuse_side_classifier
from ._metadata import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Paper, Preprocessing, WeightEntry, timm_weights
from ._registry import register_model

INCEPTION_V4_PAPER = Paper(
    "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning", "1602.07261"
)


class Mixed3a(Branches):
    """Stem, first split: 3x3 max-pool | 3x3 conv 96, both stride 2 (Fig. 3)."""

    def __init__(self, *, conv: ConvFactory):
        super().__init__(nn.MaxPool2d(3, stride=2), conv(64, 96, 3, stride=2))


class Mixed4a(Branches):
    """Stem, second split: 1x1 -> 3x3 | 1x1 -> 1x7 -> 7x1 -> 3x3 (Fig. 3, in the checkpoint's order)."""

    def __init__(self, *, conv: ConvFactory):
        # NOTE [E2]: Fig. 3 draws 7x1 before 1x7; slim's checkpoint has 1x7 (Conv2d_0b_1x7), then 7x1.
        super().__init__(
            nn.Sequential(conv(160, 64, 1), conv(64, 96, 3)),
            nn.Sequential(
                conv(160, 64, 1),
                conv(64, 64, (1, 7), padding="same"),
                conv(64, 64, (7, 1), padding="same"),
                conv(64, 96, 3),
            ),
        )


class Mixed5a(Branches):
    """Stem, third split: 3x3 conv 192 | max-pool, both stride 2 (Fig. 3)."""

    def __init__(self, *, conv: ConvFactory):
        # NOTE [E1]: Fig. 3 omits "stride 2" on this conv; 71x71 -> 35x35 needs it (slim has it).
        super().__init__(conv(192, 192, 3, stride=2), nn.MaxPool2d(3, stride=2))


class InceptionA(Branches):
    """35x35 module (Fig. 4)."""

    def __init__(self, *, conv: ConvFactory):
        super().__init__(
            conv(384, 96, 1),
            nn.Sequential(conv(384, 64, 1), conv(64, 96, 3, padding="same")),
            nn.Sequential(conv(384, 64, 1), conv(64, 96, 3, padding="same"), conv(96, 96, 3, padding="same")),
            nn.Sequential(avg_pool_3x3(), conv(384, 96, 1)),
        )


class ReductionA(Branches):
    """35x35 -> 17x17 with k, l, m, n = 192, 224, 256, 384 (Fig. 7, Table 1)."""

    def __init__(self, *, conv: ConvFactory):
        super().__init__(
            conv(384, 384, 3, stride=2),
            nn.Sequential(conv(384, 192, 1), conv(192, 224, 3, padding="same"), conv(224, 256, 3, stride=2)),
            nn.MaxPool2d(3, stride=2),
        )


class InceptionB(Branches):
    """17x17 module (Fig. 5)."""

    def __init__(self, *, conv: ConvFactory):
        # NOTE [E2]: Fig. 5 draws 1x7 -> 1x7 and a 1x7-first double branch; slim's checkpoint has
        # 1x7 -> 7x1 and 7x1, 1x7, 7x1, 1x7, as below.
        super().__init__(
            conv(1024, 384, 1),
            nn.Sequential(
                conv(1024, 192, 1), conv(192, 224, (1, 7), padding="same"), conv(224, 256, (7, 1), padding="same")
            ),
            nn.Sequential(
                conv(1024, 192, 1),
                conv(192, 192, (7, 1), padding="same"),
                conv(192, 224, (1, 7), padding="same"),
                conv(224, 224, (7, 1), padding="same"),
                conv(224, 256, (1, 7), padding="same"),
            ),
            nn.Sequential(avg_pool_3x3(), conv(1024, 128, 1)),
        )


class ReductionB(Branches):
    """17x17 -> 8x8 (Fig. 8)."""

    def __init__(self, *, conv: ConvFactory):
        super().__init__(
            nn.Sequential(conv(1024, 192, 1), conv(192, 192, 3, stride=2)),
            nn.Sequential(
                conv(1024, 256, 1),
                conv(256, 256, (1, 7), padding="same"),
                conv(256, 320, (7, 1), padding="same"),
                conv(320, 320, 3, stride=2),
            ),
            nn.MaxPool2d(3, stride=2),
        )


class InceptionC(Branches):
    """8x8 module (Fig. 6)."""

    def __init__(self, *, conv: ConvFactory):
        # NOTE [E2]: Fig. 6 draws 1x3 (448) -> 3x1 (512); slim's checkpoint has 3x1 -> 1x3.
        super().__init__(
            conv(1536, 256, 1),
            nn.Sequential(conv(1536, 384, 1), split_1x3_3x1(384, 256, conv)),
            nn.Sequential(
                conv(1536, 384, 1),
                conv(384, 448, (3, 1), padding="same"),
                conv(448, 512, (1, 3), padding="same"),
                split_1x3_3x1(512, 256, conv),
            ),
            nn.Sequential(avg_pool_3x3(), conv(1536, 256, 1)),
        )


class InceptionV4(InceptionNet):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.2,
        aux_logits: bool = False,
        small_input: bool = False,
    ):
        refuse_side_classifier("inception_v4", aux_logits)
        conv: ConvFactory = partial(ConvNormAct, norm_eps=1e-3)
        stem = OrderedDict(
            Conv2d_1a_3x3=conv(in_chans, 32, 3, stride=2),
            Conv2d_2a_3x3=conv(32, 32, 3),
            Conv2d_2b_3x3=conv(32, 64, 3, padding="same"),
            Mixed_3a=Mixed3a(conv=conv),
            Mixed_4a=Mixed4a(conv=conv),
            Mixed_5a=Mixed5a(conv=conv),
        )
        # N x 384 x 35 x 35
        blocks = OrderedDict((f"Mixed_5{c}", InceptionA(conv=conv)) for c in "bcde")
        blocks["Mixed_6a"] = ReductionA(conv=conv)
        # N x 1024 x 17 x 17
        blocks.update((f"Mixed_6{c}", InceptionB(conv=conv)) for c in "bcdefgh")
        blocks["Mixed_7a"] = ReductionB(conv=conv)
        # N x 1536 x 8 x 8
        blocks.update((f"Mixed_7{c}", InceptionC(conv=conv)) for c in "bcd")
        super().__init__(
            stem=stem,
            blocks=blocks,
            num_features=1536,
            num_classes=num_classes,
            in_chans=in_chans,
            drop_rate=drop_rate,
            min_input_size=7 if small_input else 75,
            small_input=small_input,
            # NOTE: timm's feature maps (its features.2, 3, 9, 17, 21); at 4x it takes Mixed_3a, not the last
            # layer at that stride (Mixed_4a), so that features_only and forward_intermediates give timm's maps.
            feature_layers=None if small_input else ("Conv2d_2b_3x3", "Mixed_3a", "Mixed_5e", "Mixed_6h", "Mixed_7d"),
        )


WEIGHTS = (
    timm_weights("inception_v4.tf_in1k", 80.144, 94.982),
    WeightEntry(
        tag="cadene:imagenet",
        # Cadene's file, re-hosted over https by timm (data.lip6.fr's https certificate expired in 2022).
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/inceptionv4-8e4777a0.pth",
        notes="TF-slim's 1001-class head; the background class is dropped on load",
        top1=80.062,
        top5=94.926,
        metrics_source="Cadene pretrainedmodels README",
    ),
)

register_model(
    "inception_v4",
    InceptionV4,
    ModelCard(
        paper=INCEPTION_V4_PAPER,
        preprocessing=Preprocessing(
            input_size=(3, 299, 299), crop_pct=0.875, interpolation="bicubic", mean=INCEPTION_MEAN, std=INCEPTION_STD
        ),
        references=("timm inception_v4", "Cadene inceptionv4"),
        notes="4 x Inception-A, 7 x Inception-B, 3 x Inception-C",
        weights=WEIGHTS,
    ),
)
