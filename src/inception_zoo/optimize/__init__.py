"""Inference rewrites, written once for the whole family by walking its uniform structure; int8 export;
the allocator setting that spares large tensors their page faults."""

from .int8 import Int8Report, QuantizationTooLossy, quantize_int8
from .memory import keep_freed_memory
from .rewrite import fold_affine_into_convs, merge_sibling_1x1_convs, onednn_convs, optimize_for_inference

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
