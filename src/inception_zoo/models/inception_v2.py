"""Inception-v2: the network of Table 1 of "Rethinking the Inception Architecture".

Szegedy et al., arXiv 1512.00567, section 6 ("Inception-v2") and Table 1, with the modules of
Figs. 5, 6, 7 and 10 and the batch-normalised side classifier of section 4 (Fig. 8). No weights
were released.

Names [E17]: the paper's Table 3 adds RMSProp, label smoothing, "factorized 7x7" and the
BN side classifier to this network, and section 10 calls the result Inception-v3. So this
network with its side classifier, trained with the ``inception_v3`` recipe, is the
Inception-v3 the paper describes; the released Inception-v3 checkpoint (``inception_v3``) is
another network (its stem ends 1x1 conv 80, 3x3 conv 192 VALID, pool: 35x35x192 into a
256-channel first module; and it keeps a 5x5 branch). TF-slim, the Inception-v4 paper
(section 2) and Xception (section 2) use "Inception-v2" for BN-Inception (``bn_inception``);
TF-slim's ``inception_v2`` is that network, not this one.

The paper gives the stage widths (288, 768, 1280, 2048); the filter banks inside the modules
were in a model.txt supplement that is not publicly available. Ours are Inception-v3's where a
module is the same figure, which gives 25,678,152 parameters without the side classifier:
more than the abstract's "less than 25 million", so the paper's own widths differ from ours.
Every choice is in docs/architectures.md.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

from torch import nn

from ..layers import Branches, ConvFactory, ConvNormAct, InceptionV3Aux, avg_pool_3x3
from ._base import InceptionNet
from ._metadata import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Preprocessing
from ._registry import register_model
from .inception_v3 import RETHINKING, InceptionC, InceptionD, InceptionE


class InceptionFig5(Branches):
    """35x35 module, Fig. 5: the 5x5 of the original module replaced by two 3x3."""

    def __init__(self, in_chs: int, *, conv: ConvFactory):
        # NOTE: widths are Inception-v3's Mixed_5c/5d (the paper gives none), its 5x5 now 3x3.
        super().__init__(
            conv(in_chs, 64, 1),
            nn.Sequential(conv(in_chs, 48, 1), conv(48, 64, 3, padding="same")),
            nn.Sequential(conv(in_chs, 64, 1), conv(64, 96, 3, padding="same"), conv(96, 96, 3, padding="same")),
            nn.Sequential(avg_pool_3x3(), conv(in_chs, 64, 1)),
        )


class GridReductionFig10(Branches):
    """35x35x288 -> 17x17x768, Fig. 10: two conv towers and a pool, all stride 2, side by side."""

    def __init__(self, in_chs: int, *, conv: ConvFactory):
        # NOTE: Fig. 10 puts a 1x1 before both towers (Inception-v3's Mixed_6a drops the first).
        super().__init__(
            nn.Sequential(conv(in_chs, 192, 1), conv(192, 384, 3, stride=2)),
            nn.Sequential(conv(in_chs, 64, 1), conv(64, 96, 3, padding="same"), conv(96, 96, 3, stride=2)),
            nn.MaxPool2d(3, stride=2),
        )


class InceptionV2(InceptionNet):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.2,
        aux_logits: bool = False,
        small_input: bool = False,
    ):
        conv: ConvFactory = partial(ConvNormAct, norm_eps=1e-3)
        tf_pools = dict(count_include_pad=False)  # no PyTorch weights to match: TensorFlow's arithmetic
        stem = OrderedDict(
            # Table 1, top to bottom
            Conv2d_1a_3x3=conv(in_chans, 32, 3, stride=2),
            Conv2d_2a_3x3=conv(32, 32, 3),
            Conv2d_2b_3x3=conv(32, 64, 3, padding="same"),
            MaxPool_3a_3x3=nn.MaxPool2d(3, stride=2),
            Conv2d_3b_3x3=conv(64, 80, 3),
            Conv2d_4a_3x3=conv(80, 192, 3, stride=2),
            # NOTE: Table 1 does not mark this conv "padded", but 35x35 in and out needs it.
            Conv2d_4b_3x3=conv(192, 288, 3, padding="same"),
        )
        blocks = OrderedDict(
            # N x 288 x 35 x 35
            Mixed_5b=InceptionFig5(288, conv=conv),
            Mixed_5c=InceptionFig5(288, conv=conv),
            Mixed_5d=InceptionFig5(288, conv=conv),
            Mixed_6a=GridReductionFig10(288, conv=conv),
            # N x 768 x 17 x 17; NOTE: five modules (v3 has four); widths 128, 160, 160, 160, 192 are our choice
            Mixed_6b=InceptionC(768, 128, conv=conv, **tf_pools),
            Mixed_6c=InceptionC(768, 160, conv=conv, **tf_pools),
            Mixed_6d=InceptionC(768, 160, conv=conv, **tf_pools),
            Mixed_6e=InceptionC(768, 160, conv=conv, **tf_pools),
            Mixed_6f=InceptionC(768, 192, conv=conv, **tf_pools),
            Mixed_7a=InceptionD(768, conv=conv),
            # N x 1280 x 8 x 8
            Mixed_7b=InceptionE(1280, conv=conv, **tf_pools),
            Mixed_7c=InceptionE(2048, conv=conv, **tf_pools),
            # N x 2048 x 8 x 8
        )
        # The "BN-auxiliary" classifier on the last 17x17 layer (section 4, Fig. 8; Table 3).
        aux = {"Mixed_6f": InceptionV3Aux(768, num_classes, conv=conv)} if aux_logits else None
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


register_model(
    "inception_v2",
    InceptionV2,
    ModelCard(
        paper=RETHINKING,
        preprocessing=Preprocessing(
            input_size=(3, 299, 299), crop_pct=0.875, interpolation="bicubic", mean=INCEPTION_MEAN, std=INCEPTION_STD
        ),
        aux_loss_weight=0.4,
        notes="Table 1 of the paper (its Inception-v3 once trained as Table 3 says); branch widths the paper "
        "leaves open are Inception-v3's; no released weights",
    ),
)
