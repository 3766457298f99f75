"""Our ONNX files (``export``, ``quantize_int8``) run by ONNX Runtime, usable wherever a model is.

``OnnxModel`` has what predict, evaluate and serve take from a model (its ``metadata``: name,
preprocessing, labels; its number of classes, and a forward from image batches to logits), all
read from the file, so an exported or int8 file is used like the network it came from:
``load_model``, ``inception-zoo predict/eval/serve --weights FILE.onnx``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from .errors import ArgumentError, MissingExtra, needs_extra
from .formats import decode_metadata
from .models._metadata import HasMetadata

__all__ = ["OnnxModel", "onnx_session"]


def onnx_session(path: str | os.PathLike, threads: int | None = None):
    """An ONNX Runtime session on the CPU using ``threads`` (default: torch's).

    Its threads do not spin after a call: spinning holds the cores that the caller's next work
    (torch, image decoding) needs; on 2 cores it halved the speed of a torch model run next.
    """
    with needs_extra("export", "running ONNX files"):
        import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxModel(HasMetadata, nn.Module):
    """An ONNX file written by ``export`` or ``quantize_int8``, as a model: image batches in, logits out.

    ``quantization`` is the int8 file's record (method, SQNR and top-1 agreement against fp32),
    or None for an fp32 export.

    Example:
        >>> model = OnnxModel("inception_v3.int8.onnx")
        >>> predict(model, ["cat.jpg"])[0].top[0]["label"]
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no such ONNX file: {self.path}")
        try:
            self.session = onnx_session(self.path, threads)
        except MissingExtra:
            raise
        except Exception as e:  # onnxruntime raises its own types for a corrupt or truncated file
            raise ArgumentError(f"{self.path} is not a readable ONNX file ({type(e).__name__}: {e})") from e
        entries = self.session.get_modelmeta().custom_metadata_map
        if "inception_zoo.model" not in entries:
            raise ArgumentError(
                f"{self.path} is not an ONNX file of ours (no inception_zoo metadata): "
                "write one with 'inception-zoo export' or 'inception-zoo quantize'"
            )
        self.metadata = decode_metadata(entries, prefix="inception_zoo.")
        (image,), (logits,) = self.session.get_inputs(), self.session.get_outputs()
        self.input_name, self.input_shape = image.name, image.shape  # e.g. ["batch", 3, "height", "width"]
        self.in_chans, self.num_classes = self.input_shape[1], logits.shape[1]
        self.quantization = json.loads(entries.get("inception_zoo.int8", "null"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = [d if isinstance(d, int) else axis for d, axis in zip(self.input_shape, "NCHW", strict=True)]
        fixed = [(d, n) for d, n in zip(self.input_shape, x.shape, strict=False) if isinstance(d, int)]
        if x.dim() != 4 or any(d != n for d, n in fixed):
            raise ArgumentError(
                f"{self.path.name} takes images of shape {' x '.join(map(str, expected))} "
                f"(N x C x H x W, preprocessed), got {' x '.join(map(str, x.shape))}"
            )
        feed = x.detach().to("cpu", torch.float32).contiguous().numpy()
        try:
            logits = self.session.run(None, {self.input_name: feed})[0]
        except Exception as e:  # e.g. an image too small for the network's pooling
            raise ArgumentError(f"{self.path.name} cannot run on a {' x '.join(map(str, x.shape))} batch: {e}") from e
        return torch.from_numpy(logits).to(x.device)

    def extra_repr(self) -> str:
        return f"{self.path}, {self.name}, {'int8' if self.quantization else 'fp32'}"
