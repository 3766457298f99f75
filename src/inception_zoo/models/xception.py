"""Xception.

"Xception: Deep Learning with Depthwise Separable Convolutions", Chollet, arXiv 1610.02357,
Fig. 5. The network of the Keras weights, as Cadene's pretrainedmodels (``xception``) and
timm (``legacy_xception``) port them: loads their checkpoints. 22,855,952 parameters, the
paper's count. Dropout before the classifier is off by default, as in timm's port; the paper's
0.5 (section 4.3) is the ``xception`` training recipe's [E20].
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

from torch import nn

from ..layers import ConvFactory, ConvNormAct, Residual, SeparableConv2d
from ._base import InceptionNet, refuse_side_classifier
from ._metadata import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Paper, Preprocessing, WeightEntry
from ._registry import register_model

XCEPTION_PAPER = Paper("Xception: Deep Learning with Depthwise Separable Convolutions", "1610.02357")


class XceptionBlock(Residual):
    """``reps`` x (ReLU, 3x3 separable conv, BN), a 3x3/2 max-pool when strided, plus a shortcut.

    The shortcut is the identity, or a strided 1x1 conv with BN where the width or size changes.
    ``grow_first``: widen at the first separable conv (else at the last, as the exit flow does).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        reps: int,
        stride: int,
        *,
        norm_eps: float,
        start_with_relu: bool = True,
        grow_first: bool = True,
    ):
        body = []
        for i in range(reps):
            if grow_first:
                step_in, step_out = (in_chs if i == 0 else out_chs), out_chs
            else:
                step_in, step_out = in_chs, (in_chs if i < reps - 1 else out_chs)
            # The first ReLU must not overwrite the block's input: the shortcut still reads it.
            body += [nn.ReLU(inplace=i > 0), SeparableConv2d(step_in, step_out), nn.BatchNorm2d(step_out, eps=norm_eps)]
        if not start_with_relu:
            body = body[1:]
        if stride != 1:
            body.append(nn.MaxPool2d(3, stride, padding=1))
        shortcut = None
        if in_chs != out_chs or stride != 1:
            shortcut = ConvNormAct(in_chs, out_chs, 1, stride, norm_eps=norm_eps, act=False)
        super().__init__(nn.Sequential(*body), shortcut)


def separable_conv_norm_act(in_chs: int, out_chs: int, norm_eps: float) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(conv=SeparableConv2d(in_chs, out_chs), bn=nn.BatchNorm2d(out_chs, eps=norm_eps), act=nn.ReLU())
    )


class Xception(InceptionNet):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        aux_logits: bool = False,
        norm_eps: float = 1e-5,
        small_input: bool = False,
    ):
        refuse_side_classifier("xception", aux_logits)
        # NOTE: Keras trained these weights with BatchNorm eps 1e-3; the PyTorch ports (and so
        # their logits) use 1e-5. norm_eps=1e-3 gives Keras's arithmetic.
        conv: ConvFactory = partial(ConvNormAct, norm_eps=norm_eps)
        block = partial(XceptionBlock, norm_eps=norm_eps)
        # Entry flow. NOTE: the stem takes in the first block, the one right after the two
        # convs, so that small_input keeps 32x32 through it.
        stem = OrderedDict(
            conv1=conv(in_chans, 32, 3, stride=2),
            conv2=conv(32, 64, 3),
            block1=block(64, 128, 2, 2, start_with_relu=False),
        )
        blocks = OrderedDict(
            block2=block(128, 256, 2, 2),
            block3=block(256, 728, 2, 2),
            # N x 728 x 19 x 19
        )
        # Middle flow: 8 identical blocks
        blocks.update((f"block{i}", block(728, 728, 3, 1)) for i in range(4, 12))
        # Exit flow
        blocks["block12"] = block(728, 1024, 2, 2, grow_first=False)
        blocks["conv3"] = separable_conv_norm_act(1024, 1536, norm_eps)
        blocks["conv4"] = separable_conv_norm_act(1536, 2048, norm_eps)
        # N x 2048 x 10 x 10
        super().__init__(
            stem=stem,
            blocks=blocks,
            num_features=2048,
            num_classes=num_classes,
            in_chans=in_chans,
            drop_rate=drop_rate,
            min_input_size=1 if small_input else 7,
            small_input=small_input,
        )


register_model(
    "xception",
    Xception,
    ModelCard(
        paper=XCEPTION_PAPER,
        preprocessing=Preprocessing(
            input_size=(3, 299, 299), crop_pct=0.8975, interpolation="bicubic", mean=INCEPTION_MEAN, std=INCEPTION_STD
        ),
        references=("timm legacy_xception", "Cadene xception"),
        notes="entry flow, 8 middle-flow blocks, exit flow",
        weights=(
            WeightEntry(
                tag="timm:legacy_xception.tf_in1k",
                # timm re-hosts Cadene's file (same name, so one cache file serves both entries).
                url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/xception-43020ad28.pth",
                top1=79.058,
                top5=94.396,
                metrics_source="timm results-imagenet.csv",
            ),
            WeightEntry(
                tag="cadene:imagenet",
                # The same file as timm's entry (data.lip6.fr's https certificate expired in 2022).
                url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/xception-43020ad28.pth",
                preprocessing=dict(interpolation="bilinear"),
                top1=78.888,
                top5=94.292,
                metrics_source="Cadene pretrainedmodels README (resize 333, center crop 299)",
            ),
        ),
    ),
)
