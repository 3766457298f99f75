"""Reading an image, the same way everywhere: predict, the data sets, eval, quantize and serve.

``read_rgb`` opens a file or encoded bytes, checks the pixel count from the header before
anything is decoded (a decompression bomb costs nothing), decodes, and converts to 8-bit RGB,
16-bit images included (PIL's own conversion clips them to white). Whatever goes wrong is one
``UnreadableImage`` that says what, and which kind of problem it is, so that callers skip and
count the image (or, in the server, answer with the right status).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import ArgumentError

__all__ = ["MAX_PIXELS", "UnreadableImage", "read_rgb"]

# PIL's own threshold for a possible decompression bomb (it refuses twice as many pixels).
MAX_PIXELS = Image.MAX_IMAGE_PIXELS

# Modes that convert("RGB") turns into 8-bit RGB as they are; 16-bit and 32-bit integer grey is scaled.
_EIGHT_BIT = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


class UnreadableImage(ArgumentError):
    """An image that cannot be used: too large (``kind="too_large"``), not an image we can read
    (``"not_an_image"``), in a mode with no faithful 8-bit RGB form (``"unsupported"``), corrupt or
    truncated (``"corrupt"``), or a file that cannot be opened (``"unreadable"``)."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def read_rgb(source: str | os.PathLike | bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The image in ``source`` (a path, or the bytes of an encoded image) as 8-bit RGB."""
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else Path(source))  # the header only
    except Image.DecompressionBombError as e:  # PIL's own guard, at twice its MAX_IMAGE_PIXELS
        raise UnreadableImage(f"{e}; the limit is {max_pixels:,} pixels", "too_large") from None
    except UnidentifiedImageError:
        raise UnreadableImage(
            "not an image we can read (JPEG, PNG, GIF, BMP, TIFF and WebP are)", "not_an_image"
        ) from None
    except OSError as e:  # a missing file, a folder, no permission
        raise UnreadableImage(str(e), "unreadable") from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise UnreadableImage(
                f"the image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,} pixels",
                "too_large",
            )
        if image.mode not in _EIGHT_BIT | _SIXTEEN_BIT:
            raise UnreadableImage(
                f"the {image.format} image is in mode {image.mode!r}, which has no faithful 8-bit RGB form: "
                "convert it to 8 or 16 bits per channel first",
                "unsupported",
            )
        try:
            image.load()  # decodes
            return _to_rgb(image)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise UnreadableImage(f"the {image.format} image is corrupt or truncated: {e}", "corrupt") from None


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in _SIXTEEN_BIT:  # 16-bit grey (PNG, TIFF): the top 8 of its 16 bits
        grey = np.clip(np.asarray(image, dtype=np.int64), 0, 65535) >> 8
        return Image.fromarray(grey.astype(np.uint8)).convert("RGB")
    return image.convert("RGB")
