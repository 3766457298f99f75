"""timm's and Cadene's checkpoints of TF-slim's Inception-v4 and Inception-ResNet-v2.

timm's two models are ports of Cadene's: the keys are the same, except that timm names
Inception-ResNet-v2's classifier ``classif`` where Cadene says ``last_linear``. (timm's
``inception_v3`` has torchvision's keys: see ``torchvision.INCEPTION_V3``.)
"""

from __future__ import annotations

import re

from ._layout import NUMBERED_BRANCHES, NUMBERED_BRANCHES_INVERSE, Layout, Reader

INCEPTION_V4 = Layout(
    source="timm/Cadene inception_v4",
    models=("inception_v4",),
    signature=("features.21.branch2_3b.conv.weight", "last_linear.weight"),
    numbered_features=True,  # timm's and Cadene's features.0 ... features.21 are our layers in order
    rules=(
        (r"^last_linear\.", "head.fc."),
        # Mixed_3a is (max-pool | conv) and Mixed_5a is (conv | max-pool): one conv each.
        (r"^features\.Mixed_3a\.conv\.", "features.Mixed_3a.branches.1.0."),
        (r"^features\.Mixed_5a\.conv\.", "features.Mixed_5a.branches.0.0."),
        *NUMBERED_BRANCHES,
    ),
    inverse=(
        (r"^features\.Mixed_3a\.branches\.1\.0\.", "features.Mixed_3a.conv."),
        (r"^features\.Mixed_5a\.branches\.0\.0\.", "features.Mixed_5a.conv."),
        # Inception-C (Mixed_7b-d) names its branches' layers branch1_0, branch1_1a, branch1_1b, ...
        (
            r"^(features\.Mixed_7[bcd])\.branches\.(\d)\.(\d)\.branches\.([01])\.0\.",
            lambda m: f"{m[1]}.branch{m[2]}_{m[3]}{'ab'[int(m[4])]}.",
        ),
        (r"^(features\.Mixed_7[bcd])\.branches\.([12])\.(\d)\.", r"\1.branch\2_\3."),
        *NUMBERED_BRANCHES_INVERSE,
    ),
    one_layer_branches=True,
    readers=(
        Reader("timm", "last_linear", "timm.create_model('inception_v4', num_classes={num_classes})"),
        Reader("cadene", "last_linear", "pretrainedmodels.inceptionv4(num_classes={num_classes}, pretrained=None)"),
    ),
    background_class=True,
)

_IRV2_LAYERS = (
    ("conv2d_1a", "Conv2d_1a_3x3"),
    ("conv2d_2a", "Conv2d_2a_3x3"),
    ("conv2d_2b", "Conv2d_2b_3x3"),
    ("conv2d_3b", "Conv2d_3b_1x1"),
    ("conv2d_4a", "Conv2d_4a_3x3"),
    ("mixed_5b", "Mixed_5b"),
    *((f"repeat.{i}", f"block35_{i + 1}") for i in range(10)),
    ("mixed_6a", "Mixed_6a"),
    *((f"repeat_1.{i}", f"block17_{i + 1}") for i in range(20)),
    ("mixed_7a", "Mixed_7a"),
    *((f"repeat_2.{i}", f"block8_{i + 1}") for i in range(9)),
    ("block8", "block8_10"),
    ("conv2d_7b", "Conv2d_7b_1x1"),
)

INCEPTION_RESNET_V2 = Layout(
    source="timm/Cadene inception_resnet_v2",
    models=("inception_resnet_v2",),
    signature=("repeat_1.0.conv2d.weight", "conv2d_7b.conv.weight"),
    rules=(
        (r"^(classif|last_linear)\.", "head.fc."),
        *((rf"^{re.escape(old)}\.", f"features.{new}.") for old, new in _IRV2_LAYERS),
        (r"^(features\.block\w+)\.conv2d\.", r"\1.project."),
        *NUMBERED_BRANCHES,
    ),
    inverse=(
        (r"^(features\.block\w+)\.project\.", r"\1.conv2d."),
        *((rf"^features\.{new}\.", f"{old}.") for old, new in _IRV2_LAYERS),
        *NUMBERED_BRANCHES_INVERSE,
    ),
    one_layer_branches=True,
    readers=(
        Reader("timm", "classif", "timm.create_model('inception_resnet_v2', num_classes={num_classes})"),
        Reader(
            "cadene", "last_linear", "pretrainedmodels.inceptionresnetv2(num_classes={num_classes}, pretrained=None)"
        ),
    ),
    background_class=True,
)

LAYOUTS = (INCEPTION_V4, INCEPTION_RESNET_V2)
