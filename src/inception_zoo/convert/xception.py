"""Xception checkpoints.

- Cadene's ``xception`` and timm's ``legacy_xception`` (a copy of it): the Keras weights. The
  two share every key but the classifier's (``last_linear`` in Cadene, ``fc`` in timm).
- timm's aligned ``xception41/65/71``: the TF DeepLab weights. timm counts its stem convs and
  blocks from 0, we from 1.
"""

from __future__ import annotations

from ._layout import Layout, Reader

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
    inverse=(
        (r"^features\.conv([12])\.conv\.", r"conv\1."),
        (r"^features\.conv([1234])\.bn\.", r"bn\1."),
        (r"^features\.conv([34])\.conv\.depthwise\.", r"conv\1.conv1."),
        (r"^features\.conv([34])\.conv\.pointwise\.", r"conv\1.pointwise."),
        (r"^features\.block(\d+)\.body\.(\d+)\.depthwise\.", r"block\1.rep.\2.conv1."),
        (r"^features\.block(\d+)\.body\.", r"block\1.rep."),
        (r"^features\.block(\d+)\.shortcut\.conv\.", r"block\1.skip."),
        (r"^features\.block(\d+)\.shortcut\.bn\.", r"block\1.skipbn."),
    ),
    readers=(
        Reader("timm", "fc", "timm.create_model('legacy_xception', num_classes={num_classes})"),
        Reader("cadene", "last_linear", "pretrainedmodels.xception(num_classes={num_classes}, pretrained=None)"),
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
    inverse=(
        (r"\.depthwise\.conv\.", ".conv_dw."),
        (r"\.depthwise\.bn\.", ".bn_dw."),
        (r"\.pointwise\.conv\.", ".conv_pw."),
        (r"\.pointwise\.bn\.", ".bn_pw."),
        (r"^(features\.block\d+)\.body\.", r"\1.stack."),
        (r"^features\.stem(\d)\.", lambda m: f"stem.{int(m[1]) - 1}."),
        (r"^features\.block(\d+)\.", lambda m: f"blocks.{int(m[1]) - 1}."),
    ),
    readers=(Reader("timm", "head.fc", "timm.create_model({name!r}, num_classes={num_classes})"),),
)

LAYOUTS = (LEGACY_XCEPTION, ALIGNED_XCEPTION)
