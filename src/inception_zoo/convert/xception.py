"""Xception checkpoints.

- Cadene's ``xception`` and timm's ``legacy_xception`` (a copy of it): the Keras weights. The
  two share every key but the classifier's (``last_linear`` in Cadene, ``fc`` in timm).
- timm's aligned ``xception41/65/71``: the TF DeepLab weights. timm counts its stem convs and
  blocks from 0, we from 1.
"""

from __future__ import annotations

from ._layout import Layout

LEGACY_XCEPTION = Layout(
    source="timm legacy_xception / Cadene xception",
    models=("xception",),
    signature=("block1.rep.0.conv1.weight", "block12.skip.weight"),
    rules=(
        (r"^(fc|last_linear)\.", "head.fc."),
        (r"^conv([12])\.", r"features.conv\1.conv."),
        (r"^bn([1234])\.", r"features.conv\1.bn."),
        (r"^conv([34])\.conv1\.", r"features.conv\1.conv.depthwise."),
        (r"^conv([34])\.pointwise\.", r"features.conv\1.conv.pointwise."),
        (r"^block(\d+)\.rep\.(\d+)\.conv1\.", r"features.block\1.body.\2.depthwise."),
        (r"^block(\d+)\.rep\.", r"features.block\1.body."),
        (r"^block(\d+)\.skip\.", r"features.block\1.shortcut.conv."),
        (r"^block(\d+)\.skipbn\.", r"features.block\1.shortcut.bn."),
    ),
)

ALIGNED_XCEPTION = Layout(
    source="timm xception41/65/71",
    models=("xception41", "xception65", "xception71"),  # the shapes check tells them apart
    signature=("blocks.0.stack.conv1.conv_dw.weight", "stem.0.conv.weight"),
    rules=(
        (r"^stem\.([01])\.", lambda m: f"features.stem{int(m[1]) + 1}."),
        (r"^blocks\.(\d+)\.", lambda m: f"features.block{int(m[1]) + 1}."),
        (r"^(features\.block\d+)\.stack\.", r"\1.body."),
        (r"\.conv_dw\.", ".depthwise.conv."),
        (r"\.bn_dw\.", ".depthwise.bn."),
        (r"\.conv_pw\.", ".pointwise.conv."),
        (r"\.bn_pw\.", ".pointwise.bn."),
    ),
)

LAYOUTS = (LEGACY_XCEPTION, ALIGNED_XCEPTION)
