"""int8 inference through ONNX Runtime: post-training static quantisation with a calibration set.

Why ONNX Runtime: on the CPUs we measured (AVX2, no VNNI) its int8 kernels ran these networks
1.5-2.5x as fast as our optimised fp32 eager model (benchmarks/int8.py), with no new
dependency (export already uses it). PyTorch's own path (PT2E) has moved out of torch into
torchao.

The recipe: our verified fp32 ONNX export, ONNX Runtime's pre-processing (shape inference, graph
fusions: BatchNorm folds into the convs), then QDQ quantisation with per-channel int8 weights and
uint8 activations whose ranges come from the calibration images (min/max). Weights use 7 bits by
default (``reduce_range``): x86 CPUs without VNNI multiply uint8 x int8 with an instruction that
saturates 16-bit sums, and on such a CPU full-range weights took our digits-trained InceptionNeXt
from 96.9% to 92.2% top-1 (SQNR 10 dB); 7-bit weights kept 96.9% (SQNR 33 dB, every top-1 equal).

Quantisation changes the outputs, so the result is measured, not assumed: ``quantize_int8``
reports the logits' SQNR (signal-to-quantisation-noise ratio, dB) and the share of check images
whose top-1 class is unchanged, and refuses to write a file below ``min_sqnr_db``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._files import atomic_output, writable
from ..errors import ArgumentError, QuantizationTooLossy, needs_extra
from ..export import export, export_metadata
from ..runtime import onnx_session

__all__ = ["Int8Report", "QuantizationTooLossy", "quantize_int8"]


@dataclass
class Int8Report:
    path: Path
    calibration_images: int
    check_images: int
    sqnr_db: float  # 10 log10(|fp32 logits|^2 / |int8 - fp32 logits|^2) over the check images
    top1_agreement: float  # share of check images whose top-1 class int8 and fp32 agree on


def _batches(images: torch.Tensor | Iterable[torch.Tensor], what: str) -> list[np.ndarray]:
    batches = [images] if isinstance(images, torch.Tensor) else list(images)
    for batch in batches:
        if not isinstance(batch, torch.Tensor) or batch.dim() != 4:
            shape = tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch).__name__
            raise ArgumentError(f"{what}: expected preprocessed image batches N x C x H x W, got {shape}")
    if not batches or sum(len(b) for b in batches) == 0:
        raise ArgumentError(f"{what}: no images (give at least one batch of preprocessed images)")
    return [b.detach().float().cpu().numpy() for b in batches]


@contextlib.contextmanager
def _quiet_quantiser() -> Iterator[None]:
    """ONNX Runtime's quantiser logs through the root logger, e.g. a warning for every 1-D weight (a norm's
    scale) that it quantises per tensor rather than per channel: nothing to act on, so not shown."""

    def keep(record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def quantize_int8(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    calibration: torch.Tensor | Iterable[torch.Tensor],
    check: torch.Tensor | Iterable[torch.Tensor] | None = None,
    min_sqnr_db: float = 20.0,
    reduce_range: bool = True,
) -> Int8Report:
    """Write ``model`` as an int8 ONNX file calibrated on ``calibration`` (preprocessed image batches).

    ``check`` (default: the calibration images) are the images the int8 logits are compared on;
    give held-out images for an honest figure. Raises ``QuantizationTooLossy`` (and writes nothing)
    when the SQNR is below ``min_sqnr_db``. The file carries the fp32 export's metadata (model,
    preprocessing, labels) and an ``inception_zoo.int8`` entry with the measured agreement.
    ``reduce_range=False`` gives full 8-bit weights, for CPUs with VNNI (or ARM) only.

    Example:
        >>> report = quantize_int8(model, "googlenet.int8.onnx", calibration=images[:64], check=images[64:])
        >>> logits = OnnxModel(report.path)(batch)  # or inception-zoo predict --weights googlenet.int8.onnx
    """
    with needs_extra("export", "int8 quantisation"):
        import onnx
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process

    path = Path(path)
    if path.suffix != ".onnx":
        raise ArgumentError(f"an int8 model is written as ONNX: name it *.onnx (e.g. {path.with_suffix('.onnx')})")
    writable(path)
    calibration_batches = _batches(calibration, "calibration")
    check_batches = calibration_batches if check is None else _batches(check, "check")
    model = model.eval().cpu()

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter({"images": batch} for batch in calibration_batches)

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory(prefix="inception-zoo-int8-") as work, _quiet_quantiser():
        fp32, prepared, quantized = (Path(work) / f for f in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        export(model, fp32)
        quant_pre_process(str(fp32), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            reduce_range=reduce_range,
        )
        session = onnx_session(quantized)
        with torch.inference_mode():
            expected = np.concatenate([model(torch.from_numpy(b)).numpy() for b in check_batches])
        got = np.concatenate([session.run(None, {"images": b})[0] for b in check_batches])
        noise = float(np.sum((got - expected) ** 2))
        sqnr = math.inf if noise == 0 else 10 * math.log10(float(np.sum(expected**2)) / noise)
        report = Int8Report(
            path=path,
            calibration_images=sum(len(b) for b in calibration_batches),
            check_images=len(expected),
            sqnr_db=sqnr,
            top1_agreement=float(np.mean(got.argmax(1) == expected.argmax(1))),
        )
        if sqnr < min_sqnr_db:
            raise QuantizationTooLossy(
                f"int8 logits are too far from fp32: SQNR {sqnr:.1f} dB < {min_sqnr_db} dB "
                f"(top-1 agreement {report.top1_agreement:.1%}); calibrate on more images like the ones "
                "the model will see, or lower min_sqnr_db"
            )
        written = onnx.load(str(quantized))
        metadata = export_metadata(model) | {
            "inception_zoo.int8": json.dumps(
                {
                    "method": "ONNX Runtime static QDQ, per-channel int8 weights, uint8 activations, min/max",
                    "weight_bits": 7 if reduce_range else 8,
                    "calibration_images": report.calibration_images,
                    "check_images": report.check_images,
                    "sqnr_db": round(sqnr, 2),
                    "top1_agreement": report.top1_agreement,
                }
            )
        }
        onnx.helper.set_model_props(written, metadata)
        with atomic_output(path) as tmp:
            onnx.save(written, str(tmp))
    return report
