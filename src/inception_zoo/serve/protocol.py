"""The Open Inference Protocol (KServe v2 REST), as Triton's and KServe's clients speak it.

Each served model takes one input per request, either
- ``images``: BYTES, shape ``[N]`` (or ``[N, 1]``), one encoded image per element (in JSON, each
  element base64-encoded, since JSON strings cannot hold raw bytes), preprocessed by the server as
  ``/predict`` does; or
- ``pixels``: FP32, shape ``[N, 3, H, W]`` at the model's input size, already preprocessed;
and answers with ``logits`` and/or ``probabilities`` (FP32 ``[N, classes]``). Triton's extensions:
binary tensors (``binary_data_size`` parameters, the ``Inference-Header-Content-Length`` header,
little-endian data after the JSON header, BYTES elements each after their 4-byte length) both ways,
and classification (an output's ``parameters.classification = k``: BYTES ``[N, k]`` of
``"score:index:label"``). Errors are ``{"error": "..."}`` with the status the limits already use.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import re
import struct
from dataclasses import dataclass

import numpy as np
import torch

from .._version import __version__
from ..errors import needs_extra
from .inputs import check_image_size, decode_image, read_body
from .limits import Limits
from .service import ServedModel, Service

with needs_extra("serve", "the HTTP service"):
    from fastapi import APIRouter, Depends, HTTPException, Request, Response
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

__all__ = ["EXTENSIONS", "IMAGES", "OUTPUTS", "PIXELS", "protocol_router"]

IMAGES, PIXELS = "images", "pixels"
OUTPUTS = ("logits", "probabilities")
EXTENSIONS = ("binary_tensor_data", "classification")
HEADER_LENGTH = "Inference-Header-Content-Length"


@dataclass(frozen=True)
class _Output:
    name: str
    binary: bool
    classification: int  # 0: the tensor itself


@dataclass(frozen=True)
class _InferenceRequest:
    id: str | None
    images: list[bytes] | None
    pixels: np.ndarray | None
    outputs: list[_Output]


def _bad(message: str) -> HTTPException:
    """A malformed request (400), in the protocol's error shape."""
    return HTTPException(400, message)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _parse(body: bytes, header_length: str | None, served: ServedModel, limits: Limits) -> _InferenceRequest:
    """``_parse_checked``, with whatever a hostile body can still make Python raise turned into a 400."""
    try:
        return _parse_checked(body, header_length, served, limits)
    except (TypeError, ValueError, AttributeError, OverflowError, RecursionError) as e:
        raise _bad(f"a malformed inference request ({type(e).__name__}: {e})") from None


def _parse_checked(body: bytes, header_length: str | None, served: ServedModel, limits: Limits) -> _InferenceRequest:
    """The request's one input and the outputs it asks for, every size checked against the limits."""
    if header_length is not None:
        if not re.fullmatch("[0-9]{1,12}", header_length) or int(header_length) > len(body):
            raise _bad(f"{HEADER_LENGTH} must be the JSON header's byte count, at most the body's {len(body):,}")
        header, binary = body[: int(header_length)], memoryview(body)[int(header_length) :]
    else:
        header, binary = body, memoryview(b"")
    try:
        request = json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(
            f"the request is not JSON ({e}); binary tensors go after a JSON header of {HEADER_LENGTH} bytes"
        ) from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise _bad("the request needs an 'inputs' list")
    if len(request["inputs"]) != 1 or not isinstance(request["inputs"][0], dict):
        raise _bad(f"give exactly one input: '{IMAGES}' (BYTES, encoded images) or '{PIXELS}' (FP32 NCHW)")
    tensor = request["inputs"][0]
    name, datatype, shape = tensor.get("name"), tensor.get("datatype"), tensor.get("shape")
    expected = {IMAGES: "BYTES", PIXELS: "FP32"}
    if not isinstance(name, str) or name not in expected:
        raise _bad(f"unknown input {name!r}: this model takes '{IMAGES}' (BYTES) or '{PIXELS}' (FP32)")
    if datatype != expected[name]:
        raise _bad(f"input '{name}' is {expected[name]}, got {datatype!r}")
    if not (isinstance(shape, list) and 1 <= len(shape) <= 8 and all(_is_count(d) for d in shape)):
        raise _bad(f"input '{name}' needs a shape: a list of sizes, got {shape!r}")
    count = shape[0]
    if not 1 <= count <= limits.max_batch_size:
        raise _bad(f"a request holds 1 to {limits.max_batch_size} images (the batch limit), got {count}")
    parameters = _parameters(tensor)
    size = parameters.get("binary_data_size")
    if size is not None:
        if not _is_count(size) or size > len(binary):
            raise _bad(f"input '{name}' says binary_data_size {size!r}, but {len(binary):,} bytes follow the header")
        raw, data = bytes(binary[:size]), None
    elif "data" in tensor:
        raw, data = None, tensor["data"]
    else:
        raise _bad(f"input '{name}' has no 'data' and no binary_data_size")

    images = pixels = None
    if name == IMAGES:
        if math.prod(shape[1:]) != 1:
            raise _bad(f"input '{IMAGES}' is one image per element: shape [N] or [N, 1], got {shape}")
        images = _byte_elements(raw, count, limits.max_bytes) if raw is not None else _base64_elements(data, count)
        if len(images) != count:
            raise _bad(f"input '{IMAGES}' has shape {shape} but holds {len(images)} elements")
        for i, image in enumerate(images):
            check_image_size(len(image), limits.max_bytes, f"image {i}")
    else:
        want = [count, *served.input_size]
        if shape != want:
            raise _bad(f"input '{PIXELS}' must be preprocessed to the model's input, shape {want}, got {shape}")
        if raw is not None:
            if len(raw) != 4 * int(np.prod(want)):
                raise _bad(f"input '{PIXELS}' of shape {want} is {4 * int(np.prod(want)):,} bytes, got {len(raw):,}")
            pixels = np.frombuffer(raw, dtype="<f4").reshape(want)
        else:
            try:
                pixels = np.asarray(data, dtype=np.float32).reshape(want)
            except (TypeError, ValueError):
                raise _bad(f"input '{PIXELS}' needs {int(np.prod(want)):,} numbers for shape {want}") from None
        if not np.isfinite(pixels).all():
            raise _bad(f"input '{PIXELS}' holds NaN or infinite values")
    request_id = request.get("id")
    return _InferenceRequest(
        request_id if isinstance(request_id, str) else None, images, pixels, _outputs(request, served)
    )


def _parameters(tensor: dict) -> dict:
    parameters = tensor.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise _bad(f"'parameters' must be an object, got {type(parameters).__name__}")
    return parameters


def _byte_elements(raw: bytes, count: int, max_bytes: int) -> list[bytes]:
    """A binary BYTES tensor's elements (each after its 4-byte length), stopping past ``count`` and
    refusing an element longer than ``max_bytes`` before copying it."""
    elements, offset = [], 0
    while offset < len(raw) and len(elements) <= count:
        if offset + 4 > len(raw):
            raise _bad("a BYTES tensor's element is cut off in its 4-byte length")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        check_image_size(length, max_bytes, f"image {len(elements)}")
        if offset + length > len(raw):
            raise _bad(f"a BYTES tensor's element says {length:,} bytes but fewer follow")
        elements.append(raw[offset : offset + length])
        offset += length
    return elements


def _base64_elements(data, count: int) -> list[bytes]:
    flat = data if isinstance(data, list) else [data]
    if len(flat) != count or not all(isinstance(element, str) for element in flat):
        raise _bad(f"in JSON, input '{IMAGES}' is a flat list of {count} base64 strings (its shape's first size)")
    try:
        return [base64.b64decode(element, validate=True) for element in flat]
    except (binascii.Error, TypeError, ValueError):
        raise _bad(
            f"in JSON, each '{IMAGES}' element is a base64-encoded image (or send binary data: binary_data_size)"
        ) from None


def _outputs(request: dict, served: ServedModel) -> list[_Output]:
    binary_default = bool(_parameters(request).get("binary_data_output", False))
    asked = request.get("outputs")
    if asked is None:
        return [_Output(name, binary_default, 0) for name in OUTPUTS]
    if not isinstance(asked, list) or not all(isinstance(o, dict) for o in asked):
        raise _bad("'outputs' must be a list of {\"name\": ...}")
    outputs = []
    for output in asked:
        if not isinstance(output.get("name"), str) or output["name"] not in OUTPUTS:
            raise _bad(f"unknown output {output.get('name')!r}: this model gives {' and '.join(OUTPUTS)}")
        parameters = _parameters(output)
        k = parameters.get("classification", 0)
        if not _is_count(k) or k > len(served.labels):
            raise _bad(f"classification is a class count from 1 to {len(served.labels)}, got {k!r}")
        outputs.append(_Output(output["name"], bool(parameters.get("binary_data", binary_default)), k))
    return outputs


def _serialize_bytes(elements: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


def _response(request: _InferenceRequest, served: ServedModel, logits: torch.Tensor) -> Response:
    answer = {"model_name": served.name, "model_version": served.version, "outputs": []}
    if request.id is not None:
        answer["id"] = request.id
    blobs = []
    for output in request.outputs:
        values = logits if output.name == "logits" else logits.softmax(dim=1)
        if output.classification:
            scores, indices = values.topk(output.classification, dim=1)
            labels = served.labels
            rows = [
                [f"{s:f}:{i}:{labels[i]}" for s, i in zip(srow, irow, strict=True)]
                for srow, irow in zip(scores.tolist(), indices.tolist(), strict=True)
            ]
            tensor = {"name": output.name, "datatype": "BYTES", "shape": [len(rows), output.classification]}
            flat = [element for row in rows for element in row]
            blob = _serialize_bytes([e.encode() for e in flat]) if output.binary else None
            data = flat
        else:
            tensor = {"name": output.name, "datatype": "FP32", "shape": list(values.shape)}
            array = values.contiguous().numpy().astype("<f4", copy=False)
            blob = array.tobytes() if output.binary else None
            data = array.reshape(-1).tolist() if not output.binary else None
        if blob is not None:
            tensor["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            tensor["data"] = data
        answer["outputs"].append(tensor)
    header = json.dumps(answer, allow_nan=False).encode()  # non-finite logits fail loudly, not as invalid JSON
    if not blobs:
        return Response(header, media_type="application/json")
    return Response(
        b"".join([header, *blobs]), media_type="application/octet-stream", headers={HEADER_LENGTH: str(len(header))}
    )


def _tensor_metadata(served: ServedModel) -> dict:
    classes = len(served.labels)
    return {
        "inputs": [
            {"name": IMAGES, "datatype": "BYTES", "shape": [-1]},
            {"name": PIXELS, "datatype": "FP32", "shape": [-1, *served.input_size]},
        ],
        "outputs": [{"name": name, "datatype": "FP32", "shape": [-1, classes]} for name in OUTPUTS],
    }


def _status(ok: bool) -> int:
    return 200 if ok else 503


def protocol_router(service: Service, needs_key) -> APIRouter:
    """The protocol's endpoints; ``needs_key`` (a dependency) guards all but health and model readiness."""
    router = APIRouter(prefix="/v2", tags=["Open Inference Protocol (KServe v2)"])
    guarded = [Depends(needs_key)]

    @router.get("", dependencies=guarded)
    def server_metadata() -> dict:
        return {"name": "inception-zoo", "version": __version__, "extensions": list(EXTENSIONS)}

    @router.get("/health/live")
    def live() -> dict:
        return {"live": True}

    @router.get("/health/ready")
    def ready() -> JSONResponse:
        return JSONResponse({"ready": service.ready}, status_code=_status(service.ready))

    def model_ready(name: str, version: str | None = None) -> JSONResponse:
        served = service.model(name, version)
        return JSONResponse({"name": served.name, "ready": service.ready}, status_code=_status(service.ready))

    def model_metadata(name: str, version: str | None = None) -> dict:
        served = service.model(name, version)
        platform = "onnxruntime_onnx" if served.runtime == "onnxruntime" else "pytorch"
        return {"name": served.name, "versions": [served.version], "platform": platform, **_tensor_metadata(served)}

    async def infer(request: Request, name: str, version: str | None = None) -> Response:
        served, limits = service.model(name, version), service.limits
        body = await read_body(request, limits.max_batch_size * limits.max_bytes, "the request")
        # Parsed off the event loop: a large JSON body would stall every other request, health included.
        parsed = await run_in_threadpool(_parse, body, request.headers.get(HEADER_LENGTH), served, limits)
        del body
        count = len(parsed.images) if parsed.images is not None else len(parsed.pixels)
        with served.admitted(count, limits.max_queue):
            if parsed.images is not None:
                inputs = await asyncio.gather(*(
                    run_in_threadpool(decode_image, image, limits.max_pixels, served.transform)
                    for image in parsed.images
                ))  # fmt: skip
            else:
                inputs = list(torch.from_numpy(parsed.pixels.copy()))
            logits = torch.stack(await asyncio.gather(*(served.batcher.logits(x) for x in inputs)))
        return _response(parsed, served, logits)

    for path in ("/models/{name}", "/models/{name}/versions/{version}"):
        router.add_api_route(path, model_metadata, methods=["GET"], dependencies=guarded)
        router.add_api_route(f"{path}/ready", model_ready, methods=["GET"])
        router.add_api_route(f"{path}/infer", infer, methods=["POST"], dependencies=guarded)
    return router
