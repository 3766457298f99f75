"""Inference rewrites, written once for the whole family by walking its uniform structure; int8
export; the allocator setting that spares large tensors their page faults.

A facade: names are imported on first use (see ``inception_zoo._lazy``). One file per job:
``folding``, ``merging``, ``onednn``, ``in_place``, with ``inference`` running them in order;
``int8`` (ONNX Runtime) and ``memory`` (glibc).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "Int8Report",
    "QuantizationTooLossy",
    "fold_affine_into_convs",
    "keep_freed_memory",
    "merge_sibling_1x1_convs",
    "onednn_convs",
    "optimize_for_inference",
    "quantize_int8",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Int8Report": ".int8",
        "QuantizationTooLossy": ".int8",
        "quantize_int8": ".int8",
        "fold_affine_into_convs": ".folding",
        "keep_freed_memory": ".memory",
        "merge_sibling_1x1_convs": ".merging",
        "onednn_convs": ".onednn",
        "optimize_for_inference": ".inference",
    },
)

if TYPE_CHECKING:
    from .folding import fold_affine_into_convs
    from .inference import optimize_for_inference
    from .int8 import Int8Report, QuantizationTooLossy, quantize_int8
    from .memory import keep_freed_memory
    from .merging import merge_sibling_1x1_convs
    from .onednn import onednn_convs
