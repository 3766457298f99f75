"""Export to ONNX and torch.export, each checked against the eager model before it counts as done.

An export that computes something else is worse than none, so ``export`` runs the written file
(ONNX Runtime, or the reloaded ``.pt2``) on the same random inputs as the eager model, at two
batch sizes and, where the spatial size was left dynamic, at a second image size, and deletes
the file if the outputs differ by more than ``tolerance`` (max relative error).

The file carries what a runtime needs to use the model without us: the network's name, its
preprocessing and its class names (ONNX ``metadata_props``; an ``inception_zoo.json`` entry in
the ``.pt2`` archive).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ._files import atomic_output, writable
from .data.transforms import preprocessing_of
from .errors import ArgumentError, ExportMismatch, needs_extra
from .formats import EXPORT_FORMATS as FORMATS
from .formats import encode_metadata

__all__ = ["FORMATS", "ExportMismatch", "ExportReport", "export", "export_metadata"]


@dataclass
class ExportReport:
    path: Path
    format: str
    dynamic_axes: list[str]  # "batch", and "height"/"width" where the network allows any size
    checks: list[dict]  # {"input_shape", "max_relative_error"} for each verified input


def export_metadata(model: nn.Module) -> dict[str, str]:
    """String metadata for an exported file: enough to preprocess inputs and name the outputs."""
    metadata = getattr(model, "metadata", None)
    if metadata is None:
        raise ArgumentError("export needs a model built by create_model (its metadata goes into the file)")
    return encode_metadata(metadata, prefix="inception_zoo.")


def export(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    format: str = "onnx",
    dynamic_spatial: bool = True,
    tolerance: float = 1e-4,
) -> ExportReport:
    """Write ``model`` as ONNX (opset 18) or a torch.export program, verified (see the module docstring).

    ``dynamic_spatial`` asks for free height and width; where the network's graph depends on
    the size (or the exporter cannot say it does not), only the batch axis is dynamic, and the
    report says so.

    Example:
        >>> report = export(create_model("inception_v3", weights=True), "inception_v3.onnx")
        >>> report.dynamic_axes, report.checks
    """
    if format not in FORMATS:
        raise ArgumentError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    path = Path(path)
    if path.suffix != FORMATS[format]:
        raise ArgumentError(f"a {format} file is named *{FORMATS[format]}: use {path.with_suffix(FORMATS[format])}")
    writable(path)
    model = model.eval().cpu()
    size = preprocessing_of(model).input_size[-1]
    example = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    writer = _write_onnx if format == "onnx" else _write_pt2
    axes = ["batch", "height", "width"] if dynamic_spatial else ["batch"]
    with _quiet_shape_solver():
        try:
            writer(model, example, path, axes)
        except Exception:
            if len(axes) == 1:
                raise
            axes = ["batch"]  # a graph that depends on the size (ceil-mode pooling): fix it, keep the batch free
            writer(model, example, path, axes)
    try:
        checks = _verify(model, path, format, size, axes, tolerance)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ExportReport(path, format, axes, checks)


@contextlib.contextmanager
def _quiet_shape_solver():
    """The shape solver logs its failed proofs as warnings; a failure here only means a fixed size."""
    logger = logging.getLogger("torch.fx.experimental.symbolic_shapes")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _dynamic_shapes(model: nn.Module, axes: list[str]) -> dict:
    dims = {0: torch.export.Dim("batch", min=1, max=4096)}
    if "height" in axes:
        low = model.min_input_size
        dims |= {2: torch.export.Dim("height", min=low, max=4096), 3: torch.export.Dim("width", min=low, max=4096)}
    return {"images": dims}


class _Named(nn.Module):
    """Names the input ``images`` for the exporters' dynamic shapes."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)


def _write_onnx(model: nn.Module, example: torch.Tensor, path: Path, axes: list[str]) -> None:
    with needs_extra("export", "ONNX export"):
        import onnx
        import onnxscript  # noqa: F401  (torch's exporter needs it)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _Named(model),
            (example,),
            dynamo=True,
            input_names=["images"],
            output_names=["logits"],
            dynamic_shapes=_dynamic_shapes(model, axes),
            opset_version=18,
            verbose=False,
        )
    proto = program.model_proto
    for key, value in export_metadata(model).items():
        proto.metadata_props.add(key=key, value=value)
    with atomic_output(path) as tmp:
        onnx.save(proto, tmp)


def _write_pt2(model: nn.Module, example: torch.Tensor, path: Path, axes: list[str]) -> None:
    program = torch.export.export(_Named(model), (example,), dynamic_shapes=_dynamic_shapes(model, axes))
    with atomic_output(path) as tmp:
        torch.export.save(program, tmp, extra_files={"inception_zoo.json": json.dumps(export_metadata(model))})


def _runner(path: Path, format: str):
    if format == "onnx":
        with needs_extra("export", "checking ONNX files"):
            import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda x: torch.from_numpy(session.run(None, {"images": x.numpy()})[0])
    module = torch.export.load(path).module()
    return lambda x: module(x)


@torch.inference_mode()
def _verify(model: nn.Module, path: Path, format: str, size: int, axes: list[str], tolerance: float) -> list[dict]:
    run = _runner(path, format)
    gen = torch.Generator().manual_seed(1)
    shapes = [(1, 3, size, size), (3, 3, size, size)]
    if "height" in axes:
        other = size + 32
        shapes.append((2, 3, other, other - 16))
    checks = []
    for shape in shapes:
        x = torch.randn(*shape, generator=gen)
        expected, got = model(x), run(x)
        if got.shape != expected.shape:
            raise ExportMismatch(f"{path}: output shape {tuple(got.shape)} for input {shape}, expected "
                                 f"{tuple(expected.shape)}; the file was deleted")  # fmt: skip
        error = ((got - expected).abs().max() / expected.abs().max().clamp_min(1e-12)).item()
        checks.append({"input_shape": list(shape), "max_relative_error": error})
        if not error <= tolerance:
            raise ExportMismatch(
                f"{path}: max relative error {error:.2e} > {tolerance:g} against the eager model at input {shape}; "
                "the file was deleted"
            )
    return checks
