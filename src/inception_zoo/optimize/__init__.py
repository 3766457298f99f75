"""Inference rewrites, written once for the whole family by walking its uniform structure."""

from .rewrite import fold_affine_into_convs, merge_sibling_1x1_convs, optimize_for_inference

__all__ = ["fold_affine_into_convs", "merge_sibling_1x1_convs", "optimize_for_inference"]
