"""``serve``: an HTTP service (the ``serve`` extra)."""

from __future__ import annotations

import argparse

from ..serve.limits import Limits
from ._command import Command, add_model_options, model_from, port_number, positive_int


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to accept other machines (default: 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=8000, help="(default: 8000)")
    parser.add_argument("--max-bytes", type=positive_int, default=Limits.max_bytes, help="largest upload")
    parser.add_argument(
        "--max-pixels", type=positive_int, default=Limits.max_pixels, help="largest image, width x height"
    )
    parser.add_argument(
        "--max-batch-size", type=positive_int, default=Limits.max_batch_size, help="images per model call"
    )
    parser.add_argument("--max-wait-ms", type=float, default=Limits.max_wait_ms, help="batching delay")
    parser.add_argument("--no-optimize", action="store_true", help="serve the model as built (no inference rewrites)")


def run_serve(args: argparse.Namespace) -> int:
    from ..serve.app import create_app, listen, run_server  # first: a missing extra is said before a model loads

    sock = listen(args.host, args.port)  # a port in use is said before a model loads, too
    model = model_from(args, onnx=True)
    limits = Limits(
        max_bytes=args.max_bytes, max_pixels=args.max_pixels, max_batch_size=args.max_batch_size,
        max_wait_ms=args.max_wait_ms,
    )  # fmt: skip
    host, port = sock.getsockname()[:2]
    print(f"serving {model.name} on http://{host}:{port} (web page at /, API docs at /docs)")
    run_server(create_app(model, limits, optimize=not args.no_optimize), sock)
    return 0


COMMANDS = (
    Command("serve", "an HTTP service: POST /predict, a web page at /, docs at /docs", serve_arguments, run_serve),
)
