"""timm's ``inception_next_*`` checkpoints (the official InceptionNeXt weights, re-hosted)."""

from __future__ import annotations

from ._layout import Layout, Reader

INCEPTION_NEXT = Layout(
    source="timm inception_next",
    models=tuple(f"inception_next_{size}" for size in ("atto", "tiny", "small", "base")),
    signature=("stages.0.blocks.0.token_mixer.dwconv_hw.weight", "head.fc1.weight"),
    rules=(
        (r"^stem\.", "features.stem."),
        *((rf"^stages\.{i}\.", f"features.stage{i + 1}.") for i in range(4)),
        (r"\.token_mixer\.dwconv_hw\.", ".body.0.branches.1.0."),
        (r"\.token_mixer\.dwconv_w\.", ".body.0.branches.2.0."),
        (r"\.token_mixer\.dwconv_h\.", ".body.0.branches.3.0."),
        (r"(\.blocks\.\d+)\.norm\.", r"\1.body.1."),
        (r"(\.blocks\.\d+)\.mlp\.", r"\1.body.2."),
        (r"(\.blocks\.\d+)\.gamma$", r"\1.body.3.gamma"),
        (r"^head\.fc2\.", "head.fc."),
    ),
    inverse=(
        (r"^features\.stem\.", "stem."),
        (r"^features\.stage(\d)\.", lambda m: f"stages.{int(m[1]) - 1}."),
        (r"\.body\.0\.branches\.1\.0\.", ".token_mixer.dwconv_hw."),
        (r"\.body\.0\.branches\.2\.0\.", ".token_mixer.dwconv_w."),
        (r"\.body\.0\.branches\.3\.0\.", ".token_mixer.dwconv_h."),
        (r"(\.blocks\.\d+)\.body\.1\.", r"\1.norm."),
        (r"(\.blocks\.\d+)\.body\.2\.", r"\1.mlp."),
        (r"(\.blocks\.\d+)\.body\.3\.gamma$", r"\1.gamma"),
    ),
    readers=(Reader("timm", "head.fc2", "timm.create_model({name!r}, num_classes={num_classes})"),),
)

LAYOUTS = (INCEPTION_NEXT,)
