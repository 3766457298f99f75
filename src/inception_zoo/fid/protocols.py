"""How the references turn an image into the FID network's input, exactly: each protocol is the
resize and scaling of one implementation, so that our numbers are theirs.

- ``torch-fidelity`` (the default): 8-bit RGB, resized to 299x299 with TensorFlow 1's bilinear
  resize (``align_corners=False`` without half-pixel centres: source = destination x in/out),
  then ``(x - 128) / 128``. This is the arithmetic of the original TensorFlow FID code
  (TTUR), which the published FID numbers come from; torch-fidelity reproduces it.
- ``pytorch-fid``: floats in [0, 1], resized to 299x299 with PyTorch's bilinear
  ``F.interpolate`` (``align_corners=False``, no antialiasing), then ``2x - 1``. pytorch-fid's own
  README says its values differ slightly from TensorFlow's for this resize.

- ``clean-fid`` (its default ``mode="clean"``): 8-bit RGB, each channel resized to 299x299 as
  32-bit floats with PIL's bicubic filter (antialiased when shrinking), clipped to [0, 255], then
  ``(x - 128) / 128``. clean-fid's network is NVIDIA's TorchScript conversion of the same 2015
  graph; the weight files of the two others hold the same numbers.

All three resize the whole image to a square (no crop): the aspect ratio is not kept, as in
the references.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import ArgumentError
from .options import DEFAULT_PROTOCOL, PROTOCOLS

__all__ = ["DEFAULT_PROTOCOL", "PROTOCOLS", "protocol_transform", "resize_like_tensorflow1"]

SIZE = 299


def _uint8_chw(image) -> torch.Tensor:
    """An image (PIL, CHW uint8 tensor, or CHW float tensor in [0, 1]) as a CHW uint8 tensor."""
    if isinstance(image, Image.Image):
        return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)
    if image.dtype == torch.uint8:
        return image
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


def _float_chw(image) -> torch.Tensor:
    """An image as a CHW float32 tensor in [0, 1] (8-bit values divided by 255)."""
    if isinstance(image, Image.Image) or image.dtype == torch.uint8:
        return _uint8_chw(image).float() / 255
    return image.float()


def resize_like_tensorflow1(x: torch.Tensor, size: int) -> torch.Tensor:
    """TensorFlow 1's ``resize_bilinear(align_corners=False)`` of a ``(..., H, W)`` float tensor: output
    pixel ``i`` reads the input at ``i * in / out`` (no half-pixel centres), the last row repeated.

    Rows are interpolated, then the transposed result's rows again (gathering whole rows is many times
    quicker than gathering along the last dimension; the arithmetic is the same)."""
    for _ in range(2):
        length = x.shape[-2]
        source = torch.arange(size, dtype=torch.float64) * (length / size)
        low = source.floor().long().clamp(max=length - 1)
        high = (low + 1).clamp(max=length - 1)
        weight = (source - low).to(x.dtype)[:, None]
        x = (x.index_select(-2, low) * (1 - weight) + x.index_select(-2, high) * weight).transpose(-2, -1).contiguous()
    return x


class _TorchFidelity:
    def __call__(self, image) -> torch.Tensor:
        x = resize_like_tensorflow1(_uint8_chw(image).float(), SIZE)
        return (x - 128) / 128


class _PytorchFid:
    def __call__(self, image) -> torch.Tensor:
        x = F.interpolate(_float_chw(image)[None], size=(SIZE, SIZE), mode="bilinear", align_corners=False)[0]
        return 2 * x - 1


class _CleanFid:
    def __call__(self, image) -> torch.Tensor:
        pixels = _uint8_chw(image).numpy().astype(np.float32)
        channels = [np.asarray(Image.fromarray(c).resize((SIZE, SIZE), Image.BICUBIC)) for c in pixels]
        return (torch.from_numpy(np.stack(channels)).clamp(0, 255) - 128) / 128


_TRANSFORMS = {"torch-fidelity": _TorchFidelity, "pytorch-fid": _PytorchFid, "clean-fid": _CleanFid}


def protocol_transform(protocol: str):
    """The transform of ``protocol`` (one of ``PROTOCOLS``): an image in, the network's input out."""
    if protocol not in PROTOCOLS:
        raise ArgumentError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}", option="protocol")
    return _TRANSFORMS[protocol]()
