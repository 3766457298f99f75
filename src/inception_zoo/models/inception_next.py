"""InceptionNeXt.

"InceptionNeXt: When Inception Meets ConvNeXt", Yu et al., arXiv 2303.16900. A MetaNeXt
(ConvNeXt-like) network whose token mixer is an Inception module of depthwise convs over
channel groups. Loads timm's ``inception_next_*`` checkpoints (the official weights).
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn
from torchvision.ops import StochasticDepth

from ..layers import ConvMlp, LayerScale, MlpClassifierHead, Residual, SplitBranches
from ._base import InceptionNet, refuse_side_classifier
from ._metadata import IMAGENET_MEAN, IMAGENET_STD, ModelCard, Paper, Preprocessing, WeightEntry, timm_weights
from ._registry import register_model

INCEPTION_NEXT_PAPER = Paper("InceptionNeXt: When Inception Meets ConvNeXt", "2303.16900")


class InceptionDepthwiseConv(SplitBranches):
    """Channel groups: identity | 3x3 | 1 x band | band x 1, each depthwise (Fig. 2 of the paper)."""

    def __init__(self, dim: int, *, band_kernel: int, branch_ratio: float):
        gc = int(dim * branch_ratio)  # channels of each conv branch; the rest pass through
        super().__init__(
            (dim - 3 * gc, gc, gc, gc),
            nn.Identity(),
            nn.Conv2d(gc, gc, 3, padding=1, groups=gc),
            nn.Conv2d(gc, gc, (1, band_kernel), padding=(0, band_kernel // 2), groups=gc),
            nn.Conv2d(gc, gc, (band_kernel, 1), padding=(band_kernel // 2, 0), groups=gc),
        )


class MetaNeXtBlock(Residual):
    """x + drop_path(layer_scale(mlp(norm(token_mixer(x)))))."""

    def __init__(self, dim: int, *, mlp_ratio: float, drop_path: float, band_kernel: int, branch_ratio: float):
        super().__init__(
            nn.Sequential(
                InceptionDepthwiseConv(dim, band_kernel=band_kernel, branch_ratio=branch_ratio),
                nn.BatchNorm2d(dim),
                ConvMlp(dim, int(mlp_ratio * dim)),
                LayerScale(dim),
                StochasticDepth(drop_path, "row"),
            )
        )


class InceptionNeXt(InceptionNet):
    def __init__(
        self,
        *,
        depths: tuple[int, int, int, int],
        dims: tuple[int, int, int, int],
        band_kernel: int = 11,
        branch_ratio: float = 0.125,
        mlp_ratios: tuple[float, float, float, float] = (4, 4, 4, 3),
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        aux_logits: bool = False,
        small_input: bool = False,
    ):
        refuse_side_classifier("InceptionNeXt", aux_logits)
        stem = OrderedDict(stem=nn.Sequential(nn.Conv2d(in_chans, dims[0], 4, stride=4), nn.BatchNorm2d(dims[0])))
        blocks = OrderedDict()
        # Stochastic depth grows linearly with depth, per stage (as in the official code).
        total, done = sum(depths), 0
        for i, (depth, dim) in enumerate(zip(depths, dims, strict=True)):
            stage = OrderedDict()
            if i > 0:
                stage["downsample"] = nn.Sequential(
                    nn.BatchNorm2d(dims[i - 1]), nn.Conv2d(dims[i - 1], dim, 2, stride=2)
                )
            rates = [drop_path_rate * (done + j) / max(total - 1, 1) for j in range(depth)]
            stage["blocks"] = nn.Sequential(
                *(
                    MetaNeXtBlock(
                        dim, mlp_ratio=mlp_ratios[i], drop_path=r, band_kernel=band_kernel, branch_ratio=branch_ratio
                    )
                    for r in rates
                )
            )
            blocks[f"stage{i + 1}"] = nn.Sequential(stage)
            done += depth
        super().__init__(
            stem=stem,
            blocks=blocks,
            num_features=dims[-1],
            num_classes=num_classes,
            in_chans=in_chans,
            drop_rate=drop_rate,
            min_input_size=8 if small_input else 32,
            small_input=small_input,
            head=MlpClassifierHead(dims[-1], num_classes, drop_rate),
        )


# timm results-imagenet.csv; the paper reports 75.3 / 82.3 / 83.5 / 84.0 top-1 (224) and 85.2 (384).
TOP1_TOP5 = {
    "atto": (75.348, 92.558),
    "tiny": (82.508, 96.000),
    "small": (83.584, 96.598),
    "base": (84.098, 96.782),
}


OFFICIAL = "timm results-imagenet.csv (the official weights)"


def _card(size: str, extra_weights: tuple[WeightEntry, ...] = ()) -> ModelCard:
    # NOTE: timm re-tuned base's eval crop to 0.95; the official code uses 0.875 throughout.
    crop = dict(preprocessing=dict(crop_pct=0.95)) if size == "base" else {}
    return ModelCard(
        paper=INCEPTION_NEXT_PAPER,
        preprocessing=Preprocessing(
            input_size=(3, 224, 224), crop_pct=0.875, interpolation="bicubic", mean=IMAGENET_MEAN, std=IMAGENET_STD
        ),
        references=(f"timm inception_next_{size}",),
        weights=(
            timm_weights(f"inception_next_{size}.sail_in1k", *TOP1_TOP5[size], OFFICIAL, **crop),
            *extra_weights,
        ),
    )


BASE_384 = timm_weights(
    "inception_next_base.sail_in1k_384",
    85.202,
    97.424,
    "timm results-imagenet.csv (fine-tuned at 384)",
    preprocessing=dict(input_size=(3, 384, 384), crop_pct=1.0),
)

# NOTE [E21]: Table 3 prints atto's widths as 40, 90, 180, 320; the official code's 80 and 160 give its 4.2M.
register_model(
    "inception_next_atto",
    InceptionNeXt,
    _card("atto"),
    depths=(2, 2, 6, 2),
    dims=(40, 80, 160, 320),
    band_kernel=9,
    branch_ratio=0.25,
)
register_model("inception_next_tiny", InceptionNeXt, _card("tiny"), depths=(3, 3, 9, 3), dims=(96, 192, 384, 768))
register_model("inception_next_small", InceptionNeXt, _card("small"), depths=(3, 3, 27, 3), dims=(96, 192, 384, 768))
register_model(
    "inception_next_base", InceptionNeXt, _card("base", (BASE_384,)), depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)
)
