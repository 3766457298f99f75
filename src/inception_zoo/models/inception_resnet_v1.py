"""Inception-ResNet-v1.

"Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
Szegedy et al., arXiv 1602.07261, Figs. 10-14 (and 7 with k, l, m, n = 192, 192, 256, 384).
No ImageNet weights were released; FaceNet models were trained on it, and this network also
loads facenet-pytorch's ``InceptionResnetV1`` checkpoints, rebuilding their embedding head.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

from torch import nn

from ..layers import Branches, ConvFactory, ConvNormAct, EmbeddingHead, InceptionResidual, tf_slim_stem
from ._base import InceptionNet, refuse_side_classifier
from ._metadata import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Preprocessing, WeightEntry
from ._registry import register_model
from .inception_v4 import INCEPTION_V4_PAPER


class Block35(InceptionResidual):
    """35x35 residual block, Inception-ResNet-A (Fig. 10)."""

    def __init__(self, *, conv: ConvFactory, scale: float):
        super().__init__(
            conv(256, 32, 1),
            nn.Sequential(conv(256, 32, 1), conv(32, 32, 3, padding="same")),
            nn.Sequential(conv(256, 32, 1), conv(32, 32, 3, padding="same"), conv(32, 32, 3, padding="same")),
            concat_chs=96,
            out_chs=256,
            scale=scale,
        )


class Mixed6a(Branches):
    """Reduction-A, 35x35 -> 17x17, with k, l, m, n = 192, 192, 256, 384 (Fig. 7, Table 1)."""

    def __init__(self, *, conv: ConvFactory):
        super().__init__(
            conv(256, 384, 3, stride=2),
            nn.Sequential(conv(256, 192, 1), conv(192, 192, 3, padding="same"), conv(192, 256, 3, stride=2)),
            nn.MaxPool2d(3, stride=2),
        )


class Block17(InceptionResidual):
    """17x17 residual block, Inception-ResNet-B (Fig. 11)."""

    def __init__(self, *, conv: ConvFactory, scale: float):
        super().__init__(
            conv(896, 128, 1),
            nn.Sequential(
                conv(896, 128, 1), conv(128, 128, (1, 7), padding="same"), conv(128, 128, (7, 1), padding="same")
            ),
            concat_chs=256,
            out_chs=896,
            scale=scale,
        )


class Mixed7a(Branches):
    """Reduction-B, 17x17 -> 8x8 (Fig. 12)."""

    def __init__(self, *, conv: ConvFactory):
        super().__init__(
            nn.Sequential(conv(896, 256, 1), conv(256, 384, 3, stride=2)),
            nn.Sequential(conv(896, 256, 1), conv(256, 256, 3, stride=2)),
            nn.Sequential(conv(896, 256, 1), conv(256, 256, 3, padding="same"), conv(256, 256, 3, stride=2)),
            nn.MaxPool2d(3, stride=2),
        )


class Block8(InceptionResidual):
    """8x8 residual block, Inception-ResNet-C (Fig. 13)."""

    def __init__(self, *, conv: ConvFactory, scale: float, act: bool = True):
        super().__init__(
            conv(1792, 192, 1),
            nn.Sequential(
                conv(1792, 192, 1), conv(192, 192, (1, 3), padding="same"), conv(192, 192, (3, 1), padding="same")
            ),
            concat_chs=384,
            out_chs=1792,
            scale=scale,
            act=act,
        )


class InceptionResNetV1(InceptionNet):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.2,
        aux_logits: bool = False,
        final_linear_block: bool = False,
        embedding: bool = False,
        small_input: bool = False,
    ):
        """``final_linear_block``: a sixth Inception-ResNet-C block with scale 1.0 and no ReLU, as
        FaceNet adds (and TF-slim's Inception-ResNet-v2 has). ``embedding``: FaceNet's 512-d
        embedding head instead of the classifier (``num_classes=0`` then returns L2-normalised
        embeddings)."""
        refuse_side_classifier("inception_resnet_v1", aux_logits)
        conv: ConvFactory = partial(ConvNormAct, norm_eps=1e-3)
        stem = tf_slim_stem(in_chans, conv)
        stem["Conv2d_4b_3x3"] = conv(192, 256, 3, stride=2)
        # N x 256 x 35 x 35
        # NOTE [E5]: the paper gives only "scales between 0.1 and 0.3"; 0.17 / 0.10 / 0.20 are FaceNet's (TF-slim has
        # no Inception-ResNet-v1; they equal its Inception-ResNet-v2's).
        blocks = OrderedDict((f"block35_{i}", Block35(conv=conv, scale=0.17)) for i in range(1, 6))
        blocks["Mixed_6a"] = Mixed6a(conv=conv)
        # N x 896 x 17 x 17
        blocks.update((f"block17_{i}", Block17(conv=conv, scale=0.10)) for i in range(1, 11))
        blocks["Mixed_7a"] = Mixed7a(conv=conv)
        # N x 1792 x 8 x 8
        blocks.update((f"block8_{i}", Block8(conv=conv, scale=0.20)) for i in range(1, 6))
        if final_linear_block:
            blocks["block8_6"] = Block8(conv=conv, scale=1.0, act=False)
        super().__init__(
            stem=stem,
            blocks=blocks,
            num_features=1792,
            num_classes=num_classes,
            in_chans=in_chans,
            drop_rate=drop_rate,
            min_input_size=7 if small_input else 75,
            small_input=small_input,
            head=EmbeddingHead(1792, num_classes, drop_rate) if embedding else None,
        )


register_model(
    "inception_resnet_v1",
    InceptionResNetV1,
    ModelCard(
        paper=INCEPTION_V4_PAPER,
        preprocessing=Preprocessing(
            input_size=(3, 299, 299), crop_pct=0.875, interpolation="bicubic", mean=INCEPTION_MEAN, std=INCEPTION_STD
        ),
        references=("facenet-pytorch InceptionResnetV1",),
        notes="the paper's network (5 x A, 10 x B, 5 x C); FaceNet checkpoints add a 6th C block and an embedding head",
        weights=tuple(
            WeightEntry(
                tag=f"facenet:{dataset}",
                url=f"https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/{file}",
                num_classes=classes,
                labels=dataset,
                # 160x160 face crops (from MTCNN), standardised as (x - 127.5) / 128.
                preprocessing=dict(
                    input_size=(3, 160, 160),
                    crop_pct=1.0,
                    interpolation="bilinear",
                    mean=(0.5, 0.5, 0.5),
                    std=(128 / 255, 128 / 255, 128 / 255),
                ),
                metrics_source=f"facenet-pytorch README: LFW accuracy {lfw} (a face-verification benchmark)",
            )
            for dataset, file, classes, lfw in (
                ("vggface2", "20180402-114759-vggface2.pt", 8631, "99.65%"),
                ("casia-webface", "20180408-102900-casia-webface.pt", 10575, "99.05%"),
            )
        ),
    ),
)
