"""Inference rewrites, written once for the whole family by walking its uniform structure; int8 export."""

from .int8 import Int8Report, QuantizationTooLossy, quantize_int8
from .rewrite import fold_affine_into_convs, merge_sibling_1x1_convs, onednn_convs, optimize_for_inference

__all__ = [
    "Int8Report",
    "QuantizationTooLossy",
    "fold_affine_into_convs",
    "merge_sibling_1x1_convs",
    "onednn_convs",
    "optimize_for_inference",
    "quantize_int8",
]
