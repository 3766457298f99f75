"""Cadene's ``bninception``: the Caffe BN-Inception, one flat module per conv and per BatchNorm.

Cadene's v4, Inception-ResNet-v2 and Xception share timm's keys: see ``timm.py`` and
``xception.py``.
"""

from __future__ import annotations

import re

from ._layout import Layout, Reader, Rule

STRIDED = ("3c", "4e")  # the grid reductions have no 1x1 branch: their branches count from the 3x3 one

# Cadene's name for each layer of a module -> (branch, layer), branches counted from the first conv branch.
_LAYERS = {
    "3x3_reduce": (0, 0),
    "3x3": (0, 1),
    "double_3x3_reduce": (1, 0),
    "double_3x3_1": (1, 1),
    "double_3x3_2": (1, 2),
    "pool_proj": (2, 1),
}


def _layer_rule(old: str, branch: int, layer: int) -> Rule:
    def ours(match: re.Match) -> str:
        module = match[1]
        return f"features.inception_{module}.branches.{branch + (module not in STRIDED)}.{layer}."

    return (rf"^inception_(\d[a-e])_{old}\.", ours)


def _theirs(match: re.Match) -> str:
    module, branch, layer = match[1], int(match[2]), int(match[3])
    if module not in STRIDED:
        if branch == 0:
            return f"inception_{module}_1x1."
        branch -= 1
    names = {place: old for old, place in _LAYERS.items()}
    return f"inception_{module}_{names[branch, layer]}."


BN_INCEPTION = Layout(
    source="Cadene bninception",
    models=("bn_inception",),
    signature=("inception_3a_double_3x3_1_bn.running_mean", "conv1_7x7_s2.weight"),
    rules=(
        (r"^last_linear\.", "head.fc."),
        (r"^(\w+)_bn\.", r"\1.bn."),  # conv_bn.weight -> conv.bn.weight
        (r"^(\w+)\.(weight|bias)$", r"\1.conv.\2"),  # the conv's own tensors
        (r"^(conv1_7x7_s2|conv2_3x3_reduce|conv2_3x3)\.", r"features.\1."),
        (r"^inception_(\d[a-e])_1x1\.", r"features.inception_\1.branches.0.0."),
        *(_layer_rule(old, branch, layer) for old, (branch, layer) in _LAYERS.items()),
    ),
    inverse=(
        (r"^features\.inception_(\d[a-e])\.branches\.(\d)\.(\d)\.", _theirs),
        (r"^features\.", ""),
        (r"^(\w+)\.conv\.", r"\1."),
        (r"^(\w+)\.bn\.", r"\1_bn."),
    ),
    readers=(
        Reader("cadene", "last_linear", "pretrainedmodels.bninception(num_classes={num_classes}, pretrained=None)"),
    ),
)

LAYOUTS = (BN_INCEPTION,)
