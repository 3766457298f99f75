"""Request bodies and images, checked against the limits before the work they protect: the byte count
as the body arrives, the pixel count from the image header before it is decoded."""

from __future__ import annotations

import torch

from ..data.images import UnreadableImage, read_rgb
from ..errors import needs_extra

with needs_extra("serve", "the HTTP service"):
    from fastapi import HTTPException, Request

__all__ = ["FRAMING", "check_image_size", "decode_image", "read_body", "read_image_bytes"]

FRAMING = 64 * 1024  # room for multipart boundaries or a JSON header around the payload

_STATUS = {"too_large": 413, "not_an_image": 415, "unsupported": 415, "corrupt": 422, "unreadable": 422}


async def read_body(request: Request, max_bytes: int, what: str = "the upload") -> bytes:
    """The whole body; 413 as soon as it passes ``max_bytes`` plus framing (a body without a length is cut
    off too)."""
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding != "identity":
        raise HTTPException(415, f"Content-Encoding {encoding} is not accepted: send the body uncompressed")
    too_big, cut_off = f"{what} is larger than the limit of {max_bytes:,} bytes", max_bytes + FRAMING
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cut_off:
        raise HTTPException(413, f"{too_big} (Content-Length {int(declared):,})")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cut_off:
            raise HTTPException(413, too_big)
    return bytes(body)


async def read_image_bytes(request: Request, max_bytes: int) -> bytes:
    """One image's bytes, from a multipart field ``file`` or the raw body; 413 past ``max_bytes``."""
    body = await read_body(request, max_bytes)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        request._body = body  # starlette parses the form from the body it has cached
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, "a multipart request needs the image in a file field named 'file'")
        data = await upload.read()
    else:
        data = body
    if not data:
        raise HTTPException(400, "the request has no image: send it as the body, or as the multipart field 'file'")
    check_image_size(len(data), max_bytes)
    return data


def check_image_size(size: int, max_bytes: int, which: str = "the upload") -> None:
    if size > max_bytes:
        raise HTTPException(413, f"{which} is larger than the limit of {max_bytes:,} bytes ({size:,} bytes)")


def decode_image(data: bytes, max_pixels: int, transform) -> torch.Tensor:
    """The model's input for one encoded image; 413/415/422 with the reader's reason."""
    try:
        return transform(read_rgb(data, max_pixels=max_pixels))
    except UnreadableImage as e:
        raise HTTPException(_STATUS[e.kind], str(e)) from None
