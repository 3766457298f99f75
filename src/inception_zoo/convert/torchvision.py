"""torchvision's checkpoints: ``googlenet`` and ``inception_v3`` (timm's ``inception_v3`` shares its keys)."""

from __future__ import annotations

from ._layout import Layout, Reader, branch_rules, inverse_branch_rules

GOOGLENET = Layout(
    source="torchvision googlenet",
    models=("googlenet",),
    signature=("inception3a.branch1.conv.weight", "inception3a.branch1.bn.running_var"),
    rules=(
        (r"^aux1\.", "aux_heads.inception4a."),
        (r"^aux2\.", "aux_heads.inception4d."),
        (r"^(aux_heads\.\w+)\.fc1\.", r"\1.hidden."),
        (r"^(aux_heads\.\w+)\.fc2\.", r"\1.fc."),
        (r"^fc\.", "head.fc."),
        (r"^(conv\d|inception\w+)\.", r"features.\1."),
        (r"^(features\.inception\w+)\.branch1\.", r"\1.branches.0.0."),
        (r"^(features\.inception\w+)\.branch2\.", r"\1.branches.1."),
        (r"^(features\.inception\w+)\.branch3\.", r"\1.branches.2."),
        (r"^(features\.inception\w+)\.branch4\.", r"\1.branches.3."),
    ),
    inverse=(
        (r"^aux_heads\.inception4a\.", "aux1."),
        (r"^aux_heads\.inception4d\.", "aux2."),
        (r"^(aux\d)\.hidden\.", r"\1.fc1."),
        (r"^(aux\d)\.fc\.", r"\1.fc2."),
        (r"^features\.(inception\w+)\.branches\.0\.0\.", r"\1.branch1."),
        (r"^features\.(inception\w+)\.branches\.([123])\.", lambda m: f"{m[1]}.branch{int(m[2]) + 1}."),
        (r"^features\.", ""),
    ),
    readers=(
        Reader(
            "torchvision",
            "fc",
            "torchvision.models.googlenet(num_classes={num_classes}, aux_logits={aux_logits}, init_weights=False)",
        ),
    ),
)

_V3_BRANCHES = {
    "Mixed_5[bcd]": {
        "branch1x1": "0.0",
        "branch5x5_1": "1.0",
        "branch5x5_2": "1.1",
        "branch3x3dbl_1": "2.0",
        "branch3x3dbl_2": "2.1",
        "branch3x3dbl_3": "2.2",
        "branch_pool": "3.1",
    },
    "Mixed_6a": {"branch3x3": "0.0", "branch3x3dbl_1": "1.0", "branch3x3dbl_2": "1.1", "branch3x3dbl_3": "1.2"},
    "Mixed_6[bcde]": {
        "branch1x1": "0.0",
        "branch7x7_1": "1.0",
        "branch7x7_2": "1.1",
        "branch7x7_3": "1.2",
        "branch7x7dbl_1": "2.0",
        "branch7x7dbl_2": "2.1",
        "branch7x7dbl_3": "2.2",
        "branch7x7dbl_4": "2.3",
        "branch7x7dbl_5": "2.4",
        "branch_pool": "3.1",
    },
    "Mixed_7a": {
        "branch3x3_1": "0.0",
        "branch3x3_2": "0.1",
        "branch7x7x3_1": "1.0",
        "branch7x7x3_2": "1.1",
        "branch7x7x3_3": "1.2",
        "branch7x7x3_4": "1.3",
    },
    "Mixed_7[bc]": {
        "branch1x1": "0.0",
        "branch3x3_1": "1.0",
        "branch3x3_2a": "1.1.branches.0.0",
        "branch3x3_2b": "1.1.branches.1.0",
        "branch3x3dbl_1": "2.0",
        "branch3x3dbl_2": "2.1",
        "branch3x3dbl_3a": "2.2.branches.0.0",
        "branch3x3dbl_3b": "2.2.branches.1.0",
        "branch_pool": "3.1",
    },
}

INCEPTION_V3 = Layout(
    source="torchvision/timm inception_v3",
    # pytorch-fid's and torch-fidelity's FID network keeps torchvision's names (and 1008 classes)
    models=("inception_v3", "fid_inception_v3"),
    signature=("Mixed_5b.branch1x1.conv.weight",),
    rules=(
        (r"^AuxLogits\.", "aux_heads.Mixed_6e."),
        (r"^fc\.", "head.fc."),
        (r"^(Conv2d_\w+|Mixed_\w+)\.", r"features.\1."),
        *(rule for layers, names in _V3_BRANCHES.items() for rule in branch_rules(layers, names)),
    ),
    inverse=(
        (r"^aux_heads\.Mixed_6e\.", "AuxLogits."),
        *(rule for layers, names in _V3_BRANCHES.items() for rule in inverse_branch_rules(layers, names)),
        (r"^features\.", ""),
    ),
    readers=(
        Reader(
            "torchvision",
            "fc",
            "torchvision.models.inception_v3(num_classes={num_classes}, aux_logits={aux_logits}, init_weights=False)",
            models=("inception_v3",),
        ),
        Reader(
            "timm",
            "fc",
            "timm.create_model('inception_v3', num_classes={num_classes}, aux_logits={aux_logits})",
            models=("inception_v3",),
        ),
    ),
)

LAYOUTS = (GOOGLENET, INCEPTION_V3)
