"""``optimize_for_inference``: a trained network, rewritten to cost less and give the same outputs.

The rewrites are written once for the whole family by walking its uniform structure: folding
(``folding``), sibling-conv merging (``merging``), direct oneDNN convs (``onednn``) and in-place
elementwise steps (``in_place``); here they run in order, on a copy, in eval mode, with
channels_last memory format, and optionally under ``torch.compile``. Each is exact up to float
rounding (tested: max relative error <= 1e-4 on every registered network).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import ArgumentError
from .folding import fold_affine_into_convs
from .in_place import elementwise_in_place
from .merging import merge_sibling_1x1_convs
from .onednn import onednn_available, onednn_convs

__all__ = ["INFERENCE_DTYPES", "optimize_for_inference"]


INFERENCE_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def optimize_for_inference(model: nn.Module, *, compile: bool = False, dtype: torch.dtype | None = None) -> nn.Module:
    """A copy of ``model`` for inference, with the same outputs: affines folded into convs, sibling
    1x1 convs merged, each conv one oneDNN call with the activation after it (CPU, fp32),
    channels_last memory format (NCHW input is still accepted); ``compile=True`` adds
    ``torch.compile`` (inductor with freezing, which does the oneDNN part itself; on a GPU also
    CUDA graphs, each call's logits handed back as a copy that the next call cannot overwrite).

    ``dtype`` (``torch.bfloat16`` or ``torch.float16``) computes in that precision after folding
    in fp32; inputs are cast to it and the logits cast back to the input's dtype, so callers see
    no difference but the rounding (relative error about 1e-2 instead of 1e-6). It pays off on
    GPUs and on CPUs with native bf16 (AMX, AVX512-BF16); elsewhere it is slower than fp32.

    Example:
        >>> fast = optimize_for_inference(create_model("inception_v3", weights=True))
        >>> fast(images)  # same logits as the original, to float rounding
    """
    if dtype not in (None, *INFERENCE_DTYPES):
        raise ArgumentError(f"dtype must be one of {', '.join(map(str, INFERENCE_DTYPES))} (or None), got {dtype}")
    fast = copy.deepcopy(model).eval().requires_grad_(False)  # folded weights are for inference only
    fold_affine_into_convs(fast)
    merge_sibling_1x1_convs(fast)
    device_type = next(fast.parameters()).device.type
    if not compile and dtype in (None, torch.float32) and device_type == "cpu" and onednn_available():
        onednn_convs(fast)  # under compile, inductor does this itself
    elementwise_in_place(fast)
    fast = fast.to(memory_format=torch.channels_last)
    if dtype is None or dtype == torch.float32:
        fast.register_forward_pre_hook(_channels_last_input)
    else:
        fast = _ComputeIn(fast.to(dtype), dtype)
    if not compile:
        return fast
    # Freezing lets inductor treat the weights as constants (it applies under no_grad / inference_mode).
    on_gpu = device_type == "cuda"
    compiled = torch.compile(fast, options={"freezing": True, "triton.cudagraphs": on_gpu})
    return _OwnOutputs(compiled) if on_gpu else compiled


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def _channels_last_input(module: nn.Module, args: tuple) -> tuple:  # a named hook: the model stays picklable
    return _channels_last(args[0]), *args[1:]


class _Wrapper(nn.Module):
    """A module around ``model`` that still answers for the model's attributes (name, preprocessing, labels...)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["model"], name)


class _ComputeIn(_Wrapper):
    """Runs ``model`` in ``dtype`` and hands back logits in the caller's dtype."""

    def __init__(self, model: nn.Module, dtype: torch.dtype):
        super().__init__(model)
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(_channels_last(x.to(self.dtype))).to(x.dtype)


class _OwnOutputs(_Wrapper):
    """Hands out a copy of each output: under CUDA graphs the output lives in the graph's memory and
    the next call overwrites it, so logits kept from an earlier batch (a list of predictions, say)
    would otherwise be lost. The copy is the size of the logits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).clone()
