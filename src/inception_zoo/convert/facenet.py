"""facenet-pytorch's ``InceptionResnetV1`` checkpoints (FaceNet, trained on VGGFace2 or CASIA-WebFace).

They carry slim's sixth, linear Inception-ResNet-C block and a 512-d embedding head; the
logits layer is there only in classifier checkpoints. ``model_kwargs`` tells ``create_model``
to build those.
"""

from __future__ import annotations

from ._layout import NUMBERED_BRANCHES, Layout

_LAYERS = (
    ("conv2d_1a", "Conv2d_1a_3x3"),
    ("conv2d_2a", "Conv2d_2a_3x3"),
    ("conv2d_2b", "Conv2d_2b_3x3"),
    ("conv2d_3b", "Conv2d_3b_1x1"),
    ("conv2d_4a", "Conv2d_4a_3x3"),
    ("conv2d_4b", "Conv2d_4b_3x3"),
    *((rf"repeat_1\.{i}", f"block35_{i + 1}") for i in range(5)),
    ("mixed_6a", "Mixed_6a"),
    *((rf"repeat_2\.{i}", f"block17_{i + 1}") for i in range(10)),
    ("mixed_7a", "Mixed_7a"),
    *((rf"repeat_3\.{i}", f"block8_{i + 1}") for i in range(5)),
    ("block8", "block8_6"),
)

INCEPTION_RESNET_V1 = Layout(
    source="facenet-pytorch InceptionResnetV1",
    models=("inception_resnet_v1",),
    signature=("repeat_3.0.conv2d.weight", "last_bn.running_mean"),
    rules=(
        (r"^last_linear\.", "head.project."),
        (r"^last_bn\.", "head.bn."),
        (r"^logits\.", "head.fc."),
        *((rf"^{old}\.", f"features.{new}.") for old, new in _LAYERS),
        (r"^(features\.block\w+)\.conv2d\.", r"\1.project."),
        *NUMBERED_BRANCHES,
    ),
    model_kwargs=(("final_linear_block", True), ("embedding", True)),
)

LAYOUTS = (INCEPTION_RESNET_V1,)
