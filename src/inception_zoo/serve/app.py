"""An HTTP service for one model: FastAPI, with dynamic batching and limits decided before any work.

``POST /predict`` takes a multipart upload (field ``file``) or a raw image body. Concurrent
requests wait at most ``max_wait_ms`` to be batched together (up to ``max_batch_size``), and
the model runs in one worker thread, off the event loop. Limits are checked before the work
they protect: the byte count before the body is kept, the pixel count from the image header
before it is decoded (a decompression bomb is refused unread). Every refusal is a JSON
``{"detail": ...}`` that says what was wrong and what is accepted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from importlib import resources

import torch
from torch import nn

from .._version import __version__
from ..data.images import UnreadableImage, read_rgb
from ..data.transforms import preprocessing_of, transforms_for
from ..errors import ArgumentError, needs_extra
from ..optimize.inference import optimize_for_inference
from ..runtime import OnnxModel
from .limits import Limits

with needs_extra("serve", "the HTTP service"):
    import uvicorn
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import HTMLResponse
    from fastapi_offline import FastAPIOffline  # the API docs' scripts from the package, not a CDN
    from starlette.concurrency import run_in_threadpool

__all__ = ["background_server", "create_app", "listen", "run_server"]


class _Batcher:
    """Collects single images into batches; one thread runs the model so the event loop stays free."""

    def __init__(self, model: nn.Module, limits: Limits):
        self.model, self.limits = model, limits
        self.queue: asyncio.Queue = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.task: asyncio.Task | None = None
        self.batches = self.images = 0

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.executor.shutdown(wait=False)

    async def probabilities(self, image: torch.Tensor) -> torch.Tensor:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((image, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.limits.max_wait_ms / 1000
            while len(batch) < self.limits.max_batch_size:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), timeout))
                except TimeoutError:
                    break
            batch = [(image, future) for image, future in batch if not future.cancelled()]  # clients gone
            if not batch:
                continue
            try:
                probabilities = await loop.run_in_executor(self.executor, self._forward, [i for i, _ in batch])
            except Exception as e:  # a failed batch fails its requests, never the server
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            self.batches, self.images = self.batches + 1, self.images + len(batch)
            for (_, future), row in zip(batch, probabilities, strict=True):
                if not future.done():
                    future.set_result(row)

    @torch.inference_mode()
    def _forward(self, images: list[torch.Tensor]) -> torch.Tensor:
        return self.model(torch.stack(images)).float().softmax(dim=1)


def create_app(model: nn.Module, limits: Limits | None = None, *, optimize: bool = True) -> FastAPI:
    """The service for ``model`` (its own preprocessing and labels); run it with uvicorn.

    ``optimize`` serves ``optimize_for_inference(model)``: the same outputs, 1.3-2.2x faster on a CPU.
    An ``OnnxModel`` (an exported or int8 file) is served as it is, by ONNX Runtime.

    Example:
        >>> app = create_app(load_model("run/model.safetensors"))
        >>> run_server(app, host="127.0.0.1", port=8000)
    """
    limits = limits or Limits()
    model.eval()
    transform = transforms_for(model)
    labels = getattr(model, "labels", None) or [str(i) for i in range(model.num_classes)]
    if optimize and not isinstance(model, OnnxModel):
        batcher = _Batcher(optimize_for_inference(model), limits)
    else:
        batcher = _Batcher(model, limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPIOffline(
        title="inception-zoo",
        summary=f"{model.name}: image classification",
        version=__version__,
        lifespan=lifespan,
    )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("inception_zoo").joinpath("static/index.html").read_text()

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": model.name}

    @app.get("/info")
    def info() -> dict:
        return {
            "model": model.name,
            "num_labels": len(labels),
            "preprocessing": dataclasses.asdict(preprocessing_of(model)),
            "limits": dataclasses.asdict(limits),
            "provenance": getattr(model, "provenance", {}),
            "runtime": "onnxruntime" if isinstance(model, OnnxModel) else "torch",
            "quantization": getattr(model, "quantization", None),
            "served": {"batches": batcher.batches, "images": batcher.images},
        }

    @app.post("/predict", openapi_extra=_PREDICT_BODY)
    async def predict(request: Request, topk: int = 5) -> dict:
        """Top-k classes of one image (multipart field ``file``, or the raw image as the body)."""
        if not 1 <= topk <= limits.max_topk:
            raise HTTPException(422, f"topk must be between 1 and {limits.max_topk}, got {topk}")
        data = await _read_image_bytes(request, limits.max_bytes)
        tensor = await run_in_threadpool(_decode, data, limits.max_pixels, transform)
        probabilities = await batcher.probabilities(tensor)
        scores, indices = probabilities.topk(min(topk, len(labels)))
        return {
            "model": model.name,
            "predictions": [
                {"label": labels[i], "index": i, "score": s}
                for i, s in zip(indices.tolist(), scores.tolist(), strict=True)
            ],
        }

    return app


_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


async def _read_image_bytes(request: Request, max_bytes: int) -> bytes:
    """The image's bytes, from a multipart field ``file`` or the raw body; 413 past ``max_bytes``."""
    too_big = f"the upload is larger than the limit of {max_bytes:,} bytes"
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:  # allow multipart framing
        raise HTTPException(413, f"{too_big} (Content-Length {int(declared):,})")
    body = bytearray()
    async for chunk in request.stream():  # counted as it arrives: a body without a length is cut off too
        body += chunk
        if len(body) > max_bytes + 64 * 1024:
            raise HTTPException(413, too_big)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        request._body = bytes(body)  # starlette parses the form from the body it has cached
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, "a multipart request needs the image in a file field named 'file'")
        data = await upload.read()
    else:
        data = bytes(body)
    if not data:
        raise HTTPException(400, "the request has no image: send it as the body, or as the multipart field 'file'")
    if len(data) > max_bytes:
        raise HTTPException(413, f"{too_big} ({len(data):,} bytes)")
    return data


_STATUS = {"too_large": 413, "not_an_image": 415, "unsupported": 415, "corrupt": 422, "unreadable": 422}


def _decode(data: bytes, max_pixels: int, transform) -> torch.Tensor:
    try:
        return transform(read_rgb(data, max_pixels=max_pixels))
    except UnreadableImage as e:
        raise HTTPException(_STATUS[e.kind], str(e)) from None


def listen(host: str = "127.0.0.1", port: int = 8000) -> socket.socket:
    """A socket bound to ``host:port``, or an ``ArgumentError`` saying why it cannot be (a port in use...)."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind)
    except OSError as e:
        raise ArgumentError(f"cannot serve on {host}: {e.strerror or e}", option="host") from None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise ArgumentError(f"cannot serve on {host}:{port}: {e.strerror or e}", option="port") from None
    return sock


def run_server(app: FastAPI, sock: socket.socket) -> None:
    """Serve ``app`` with uvicorn on ``sock`` (from ``listen``) until stopped (Ctrl-C, SIGTERM)."""
    uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=[sock])


@contextmanager
def background_server(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread (for tests, benchmarks and notebooks); yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
