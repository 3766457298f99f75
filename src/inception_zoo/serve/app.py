"""An HTTP service for one or several models: FastAPI, with dynamic batching and limits decided before
any work.

Two ways in: our own ``POST /predict`` (a multipart upload, field ``file``, or a raw image body;
top-k labels as JSON; a web page at ``/``), and the Open Inference Protocol under ``/v2`` (Triton's
and KServe's clients, see ``protocol``). Concurrent requests wait at most ``max_wait_ms`` to be
batched together (up to ``max_batch_size``), each model in its own worker thread, off the event
loop. Prometheus metrics at ``/metrics``; with an API key, every endpoint but health and the page
needs ``Authorization: Bearer KEY``. On SIGTERM the server turns not-ready, stops accepting, answers
what it has accepted and exits 0.
"""

from __future__ import annotations

import dataclasses
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from importlib import resources

from torch import nn

from .._version import __version__
from ..errors import ArgumentError, needs_extra
from .access import key_checker
from .inputs import decode_image, read_image_bytes
from .limits import Limits
from .metrics import CONTENT_TYPE_LATEST, Metrics, MetricsMiddleware
from .protocol import protocol_router
from .service import NotServed, Overloaded, Service, served_models

with needs_extra("serve", "the HTTP service"):
    import uvicorn
    from fastapi import Depends, FastAPI, HTTPException, Request, Response
    from fastapi.exception_handlers import request_validation_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from fastapi_offline import FastAPIOffline  # the API docs' scripts from the package, not a CDN
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["background_server", "create_app", "listen", "run_server"]


def create_app(
    models: nn.Module | Iterable[nn.Module] | Mapping[str, nn.Module], limits: Limits | None = None, *,
    optimize: bool = True, api_key: str | None = None,
) -> FastAPI:  # fmt: skip
    """The service for ``models`` (each with its own preprocessing and labels); run it with uvicorn.

    ``models``: one model, several (each named by its network's registered name), or a mapping from
    the names to serve them under. ``optimize`` serves ``optimize_for_inference(model)``: the same
    outputs, 1.3-2.2x faster on a CPU; an ``OnnxModel`` (an exported or int8 file) is served as it
    is, by ONNX Runtime. ``api_key``: required as ``Authorization: Bearer KEY`` on all but health.

    Example:
        >>> app = create_app(load_model("run/model.safetensors"))
        >>> run_server(app, listen("127.0.0.1", 8000))
    """
    limits = limits or Limits()
    if api_key is not None:
        api_key = api_key.strip()  # a key read from a file often ends in a newline
        if not api_key:
            raise ArgumentError("the API key is empty: give a key, or none for an open server", option="api_key")
    metrics = Metrics(limits.max_batch_size)
    service = Service(served_models(models, limits, metrics, optimize=optimize), limits, metrics, api_key)
    needs_key = key_checker(api_key)
    guarded = [Depends(needs_key)]

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for served in service.models.values():
            served.batcher.start()
        service.started, service.draining = True, False
        yield
        service.started = False
        for served in service.models.values():
            await served.batcher.stop()

    names = "" if api_key else f"{', '.join(service.models)}: "  # with a key, the names are for those who have it
    app = FastAPIOffline(
        title="inception-zoo", summary=f"{names}image classification", version=__version__, lifespan=lifespan
    )
    app.state.service = service
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    def error(request: Request, status: int, message: str, headers: dict | None = None) -> JSONResponse:
        """The protocol's error shape under /v2 (``{"error": ...}``), ``{"detail": ...}`` elsewhere."""
        key = "error" if request.url.path.startswith("/v2") else "detail"
        return JSONResponse({key: message}, status, headers=headers)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException and the router's 404/405
    async def http_errors(request: Request, e: StarletteHTTPException):
        return error(request, e.status_code, e.detail, e.headers)

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, e: Overloaded):
        return error(request, 503, str(e), {"Retry-After": "1"})

    @app.exception_handler(NotServed)
    async def not_served(request: Request, e: NotServed):
        return error(request, 404, str(e))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        if request.url.path.startswith("/v2"):
            return JSONResponse({"error": "; ".join(e["msg"] for e in error.errors())}, 400)
        return await request_validation_exception_handler(request, error)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("inception_zoo").joinpath("static/index.html").read_text()

    @app.get("/health")
    def health() -> JSONResponse:
        """Open to all: whether the server takes requests, whether it needs a key, and (without one) its
        models."""
        body = {
            "status": "ok" if service.ready else "shutting down" if service.draining else "starting",
            "api_key_required": api_key is not None,
        }
        if not api_key:
            body["models"] = list(service.models)
        return JSONResponse(body, status_code=200 if service.ready else 503)

    @app.get("/info", dependencies=guarded)
    def info() -> dict:
        return {
            "models": {name: served.info() for name, served in service.models.items()},
            "default_model": service.model().name,
            "limits": dataclasses.asdict(limits),
        }

    @app.get("/metrics", dependencies=guarded, include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.text(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/predict", openapi_extra=_PREDICT_BODY, dependencies=guarded)
    async def predict(request: Request, topk: int = 5, model: str | None = None) -> dict:
        """Top-k classes of one image (multipart field ``file``, or the raw image as the body), from
        ``model`` (default: the first served)."""
        served = service.model(model)
        if not 1 <= topk <= limits.max_topk:
            raise HTTPException(422, f"topk must be between 1 and {limits.max_topk}, got {topk}")
        with served.admitted(1, limits.max_queue):
            data = await read_image_bytes(request, limits.max_bytes)
            tensor = await run_in_threadpool(decode_image, data, limits.max_pixels, served.transform)
            probabilities = (await served.batcher.logits(tensor)).softmax(dim=0)
        scores, indices = probabilities.topk(min(topk, len(served.labels)))
        return {
            "model": served.name,
            "predictions": [
                {"label": served.labels[i], "index": i, "score": s}
                for i, s in zip(indices.tolist(), scores.tolist(), strict=True)
            ],
        }

    app.include_router(protocol_router(service, needs_key))
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


class _Server(uvicorn.Server):
    """uvicorn's server, which on a shutdown signal first marks the service not-ready, then (uvicorn's
    own graceful shutdown) stops accepting, lets every accepted request finish, and ends the lifespan."""

    def handle_exit(self, sig: int, frame) -> None:
        self.config.app.state.service.draining = True
        super().handle_exit(sig, frame)


def _server(app: FastAPI, **config) -> _Server:
    limits = app.state.service.limits
    return _Server(uvicorn.Config(app, timeout_graceful_shutdown=limits.shutdown_timeout, **config))


def run_server(app: FastAPI, sock: socket.socket) -> None:
    """Serve ``app`` with uvicorn on ``sock`` (from ``listen``) until stopped. After SIGTERM's graceful
    shutdown it returns (uvicorn would re-raise the signal, ending the process with it, not 0)."""
    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # what uvicorn restores and re-raises into
    try:
        _server(app, log_level="info").run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def background_server(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread (for tests, benchmarks and notebooks); yields its base URL."""
    server = _server(app, host=host, port=port, log_level="warning", lifespan="on")
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
