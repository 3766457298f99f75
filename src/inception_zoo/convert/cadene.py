"""Cadene's ``bninception``: the Caffe BN-Inception, one flat module per conv and per BatchNorm.

Cadene's v4, Inception-ResNet-v2 and Xception share timm's keys: see ``timm.py`` and
``xception.py``.
"""

from __future__ import annotations

from ..models.bn_inception import FIG_5
from ._layout import Layout, Rule


def _module_rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for name, row in FIG_5.items():
        first = 1 if row.ch1x1 else 0  # the stride-2 modules have no 1x1 branch
        branches = {
            "1x1": "0.0",
            "3x3_reduce": f"{first}.0",
            "3x3": f"{first}.1",
            "double_3x3_reduce": f"{first + 1}.0",
            "double_3x3_1": f"{first + 1}.1",
            "double_3x3_2": f"{first + 1}.2",
            "pool_proj": f"{first + 2}.1",
        }
        rules += [
            (rf"^inception_{name}_{old}\.", f"features.inception_{name}.branches.{new}.")
            for old, new in branches.items()
        ]
    return tuple(rules)


BN_INCEPTION = Layout(
    source="Cadene bninception",
    models=("bn_inception",),
    signature=("inception_3a_double_3x3_1_bn.running_mean", "conv1_7x7_s2.weight"),
    rules=(
        (r"^last_linear\.", "head.fc."),
        (r"^(\w+)_bn\.", r"\1.bn."),  # conv_bn.weight -> conv.bn.weight
        (r"^(\w+)\.(weight|bias)$", r"\1.conv.\2"),  # the conv's own tensors
        (r"^(conv1_7x7_s2|conv2_3x3_reduce|conv2_3x3)\.", r"features.\1."),
        *_module_rules(),
    ),
)

LAYOUTS = (BN_INCEPTION,)
