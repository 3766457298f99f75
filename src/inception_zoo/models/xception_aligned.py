"""Aligned Xception: xception41, xception65, xception71.

"Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation"
(DeepLabv3+), Chen et al., arXiv 1802.02611, Fig. 4: the "modified aligned Xception", deeper
than Xception (arXiv 1610.02357), with every max-pool replaced by a strided separable conv and
BN + ReLU after each depthwise conv. Loads timm's ``xception41/65/71`` checkpoints (the TF
DeepLab weights).
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

from torch import nn

from ..layers import ConvFactory, ConvNormAct, Residual
from ._base import InceptionNet, refuse_side_classifier
from ._metadata import INCEPTION_MEAN, INCEPTION_STD, ModelCard, Paper, Preprocessing, timm_weights
from ._registry import register_model

DEEPLAB_V3_PLUS = Paper(
    "Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation", "1802.02611"
)


def separable(in_chs: int, out_chs: int, stride: int, *, conv: ConvFactory, act: bool) -> nn.Sequential:
    """Depthwise 3x3 conv + BN (+ ReLU), then pointwise 1x1 conv + BN (+ ReLU)."""
    return nn.Sequential(
        OrderedDict(
            depthwise=conv(in_chs, in_chs, 3, stride, padding=1, groups=in_chs, act=act),
            pointwise=conv(in_chs, out_chs, 1, act=act),
        )
    )


def separable_stack(
    in_chs: int, out_chs: tuple[int, int, int], stride: int, *, conv: ConvFactory, start_with_relu: bool = True
) -> nn.Sequential:
    """Three separable convs, the last one strided.

    ``start_with_relu``: a ReLU before each separable conv (entry and middle flows); otherwise
    ReLU inside them, after each BN (the exit flow's last module).
    """
    stack = OrderedDict()
    for i, step_out in enumerate(out_chs, start=1):
        if start_with_relu:
            # The first ReLU must not overwrite the module's input: the shortcut still reads it.
            stack[f"act{i}"] = nn.ReLU(inplace=i > 1)
        stack[f"conv{i}"] = separable(in_chs, step_out, stride if i == 3 else 1, conv=conv, act=not start_with_relu)
        in_chs = step_out
    return nn.Sequential(stack)


class XceptionModule(Residual):
    """A separable stack plus a shortcut: the identity, or a strided 1x1 conv + BN where the shape changes."""

    def __init__(self, in_chs: int, out_chs: tuple[int, int, int], stride: int, *, conv: ConvFactory):
        projection = None
        if stride != 1 or out_chs[-1] != in_chs:
            projection = conv(in_chs, out_chs[-1], 1, stride, act=False)
        super().__init__(separable_stack(in_chs, out_chs, stride, conv=conv), projection)


class ExitModule(nn.Module):
    """The exit flow's last module: a separable stack with ReLU inside, and no shortcut."""

    def __init__(self, in_chs: int, out_chs: tuple[int, int, int], *, conv: ConvFactory):
        super().__init__()
        self.body = separable_stack(in_chs, out_chs, 1, conv=conv, start_with_relu=False)

    def forward(self, x):
        return self.body(x)


class XceptionAligned(InceptionNet):
    def __init__(
        self,
        *,
        entry: tuple[tuple[int, int], ...],
        middle_blocks: int,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        aux_logits: bool = False,
        small_input: bool = False,
    ):
        """``entry``: (width, stride) of each entry-flow module; ``middle_blocks``: how many 728-wide modules."""
        refuse_side_classifier("the aligned Xception", aux_logits)
        conv: ConvFactory = partial(ConvNormAct, norm_eps=1e-3)
        modules = []
        in_chs = 64
        for width, stride in entry:
            modules.append(XceptionModule(in_chs, (width,) * 3, stride, conv=conv))
            in_chs = width
        modules += [XceptionModule(728, (728, 728, 728), 1, conv=conv) for _ in range(middle_blocks)]
        modules.append(XceptionModule(728, (728, 1024, 1024), 2, conv=conv))
        modules.append(ExitModule(1024, (1536, 1536, 2048), conv=conv))
        named = OrderedDict((f"block{i}", module) for i, module in enumerate(modules, start=1))
        # NOTE: the stem takes in the first entry module, so that small_input keeps 32x32 through it.
        stem = OrderedDict(stem1=conv(in_chans, 32, 3, 2, padding=1), stem2=conv(32, 64, 3, padding=1))
        stem["block1"] = named.pop("block1")
        super().__init__(
            stem=stem,
            blocks=named,
            num_features=2048,
            num_classes=num_classes,
            in_chans=in_chans,
            drop_rate=drop_rate,
            min_input_size=1,
            small_input=small_input,
        )


TOP1_TOP5 = {"xception41": (78.550, 94.282), "xception65": (79.558, 94.656), "xception71": (79.920, 94.908)}


def _card(name: str, notes: str) -> ModelCard:
    return ModelCard(
        paper=DEEPLAB_V3_PLUS,
        preprocessing=Preprocessing(
            input_size=(3, 299, 299), crop_pct=0.903, interpolation="bicubic", mean=INCEPTION_MEAN, std=INCEPTION_STD
        ),
        references=(f"timm {name}",),
        notes=notes,
        weights=(
            timm_weights(f"{name}.tf_in1k", *TOP1_TOP5[name], source="timm results-imagenet.csv (TF DeepLab weights)"),
        ),
    )


register_model(
    "xception41",
    XceptionAligned,
    _card("xception41", "3 entry modules, 8 middle, 2 exit"),
    entry=((128, 2), (256, 2), (728, 2)),
    middle_blocks=8,
)
register_model(
    "xception65",
    XceptionAligned,
    _card("xception65", "3 entry modules, 16 middle, 2 exit (DeepLabv3+'s backbone)"),
    entry=((128, 2), (256, 2), (728, 2)),
    middle_blocks=16,
)
register_model(
    "xception71",
    XceptionAligned,
    _card("xception71", "5 entry modules, 16 middle, 2 exit"),
    entry=((128, 2), (256, 1), (256, 2), (728, 1), (728, 2)),
    middle_blocks=16,
)
