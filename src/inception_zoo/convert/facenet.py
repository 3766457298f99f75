"""facenet-pytorch's ``InceptionResnetV1`` checkpoints (FaceNet, trained on VGGFace2 or CASIA-WebFace).

They carry slim's sixth, linear Inception-ResNet-C block and a 512-d embedding head; the
logits layer is there only in classifier checkpoints. ``model_kwargs`` tells ``create_model``
to build those.
"""

from __future__ import annotations

import re

from ._layout import NUMBERED_BRANCHES, NUMBERED_BRANCHES_INVERSE, Layout, Reader

_LAYERS = (
    ("conv2d_1a", "Conv2d_1a_3x3"),
    ("conv2d_2a", "Conv2d_2a_3x3"),
    ("conv2d_2b", "Conv2d_2b_3x3"),
    ("conv2d_3b", "Conv2d_3b_1x1"),
    ("conv2d_4a", "Conv2d_4a_3x3"),
    ("conv2d_4b", "Conv2d_4b_3x3"),
    *((f"repeat_1.{i}", f"block35_{i + 1}") for i in range(5)),
    ("mixed_6a", "Mixed_6a"),
    *((f"repeat_2.{i}", f"block17_{i + 1}") for i in range(10)),
    ("mixed_7a", "Mixed_7a"),
    *((f"repeat_3.{i}", f"block8_{i + 1}") for i in range(5)),
    ("block8", "block8_6"),
)
_HEAD = (("last_linear", "head.project"), ("last_bn", "head.bn"))

INCEPTION_RESNET_V1 = Layout(
    source="facenet-pytorch InceptionResnetV1",
    models=("inception_resnet_v1",),
    signature=("repeat_3.0.conv2d.weight", "last_bn.running_mean"),
    rules=(
        *((rf"^{old}\.", f"{new}.") for old, new in _HEAD),
        (r"^logits\.", "head.fc."),
        *((rf"^{re.escape(old)}\.", f"features.{new}.") for old, new in _LAYERS),
        (r"^(features\.block\w+)\.conv2d\.", r"\1.project."),
        *NUMBERED_BRANCHES,
    ),
    inverse=(
        *((rf"^{re.escape(new)}\.", f"{old}.") for old, new in _HEAD),
        (r"^(features\.block\w+)\.project\.", r"\1.conv2d."),
        *((rf"^features\.{new}\.", f"{old}.") for old, new in _LAYERS),
        *NUMBERED_BRANCHES_INVERSE,
    ),
    one_layer_branches=True,
    readers=(
        Reader(
            "facenet",
            "logits",
            "facenet_pytorch.InceptionResnetV1(classify={classify}, num_classes={num_classes})",
        ),
    ),
    model_kwargs=(("final_linear_block", True), ("embedding", True)),
)

LAYOUTS = (INCEPTION_RESNET_V1,)
