"""``serve``: an HTTP service for one or several models (the ``serve`` extra)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..serve.limits import Limits
from ._command import Command, port_number, positive_int

MODEL_FILES = (".safetensors", ".onnx")


class _Served(argparse.Action):
    """``--model``, ``--weights`` and ``--name`` in the order given, one entry per served model: a
    ``--weights`` right after a ``--model`` is that network's weights, otherwise a model of its own;
    ``--name`` names the entry before it."""

    def __call__(self, parser, namespace, value, option_string=None):
        entries = getattr(namespace, self.dest) or []
        setattr(namespace, self.dest, entries)
        last = entries[-1] if entries else None
        if self.const == "model":
            entries.append({"model": value})
        elif self.const == "weights":
            if last is not None and "model" in last and "weights" not in last:
                last["weights"] = value
            else:
                entries.append({"weights": value})
        elif last is None or "name" in last:
            parser.error(f"--name {value}: give it after the --model or --weights it names")
        else:
            last["name"] = value


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    models = parser.add_argument_group(
        "models", "repeat to serve several: --model A [--weights W] [--name N] --weights FILE [--name M] ..."
    )
    models.add_argument("--model", dest="served", action=_Served, const="model",
                        help="a network; with no --weights after it, its default published weights")  # fmt: skip
    models.add_argument(
        "--weights", dest="served", action=_Served, const="weights",
        help="after --model: its weight tag or checkpoint file; alone: one of our .safetensors or .onnx files, "
        "an hf-hub:ORG/NAME repository, or a folder (every .safetensors and .onnx file in it)",
    )  # fmt: skip
    models.add_argument("--name", dest="served", action=_Served, const="name",
                        help="the name to serve the model before it under (default: its network's name)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to accept other machines (default: 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=8000, help="(default: 8000)")
    parser.add_argument(
        "--api-key", help="require 'Authorization: Bearer KEY' on all but health (default: the environment "
        "variable INCEPTION_ZOO_API_KEY, which, unlike a flag, other users cannot see in the process list)",
    )  # fmt: skip
    parser.add_argument("--max-bytes", type=positive_int, default=Limits.max_bytes, help="largest upload")
    parser.add_argument(
        "--max-pixels", type=positive_int, default=Limits.max_pixels, help="largest image, width x height"
    )
    parser.add_argument(
        "--max-batch-size", type=positive_int, default=Limits.max_batch_size, help="images per model call"
    )
    parser.add_argument("--max-wait-ms", type=float, default=Limits.max_wait_ms, help="batching delay")
    parser.add_argument(
        "--max-queue", type=positive_int, default=Limits.max_queue,
        help="images a model may have accepted and not yet answered; more are refused with 503 (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--shutdown-timeout", type=float, default=Limits.shutdown_timeout,
        help="seconds accepted requests may take to finish after SIGTERM (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--no-optimize", action="store_true", help="serve the model as built (no inference rewrites)")


def _expanded(entries: list[dict]) -> list[dict]:
    """Each folder given as ``--weights`` replaced by its model files."""
    from ..errors import ArgumentError

    out = []
    for entry in entries:
        folder = Path(entry.get("weights", ""))
        if "model" in entry or not entry.get("weights") or not folder.is_dir():
            out.append(entry)
            continue
        files = sorted(p for p in folder.iterdir() if p.suffix in MODEL_FILES and p.is_file())
        if not files:
            raise ArgumentError(f"{folder} holds no model files ({' or '.join(MODEL_FILES)})", option="weights")
        if "name" in entry:
            raise ArgumentError(message := f"--name names one model; {folder} is a folder of {len(files)}", cli=message)
        out += [{"weights": str(p)} for p in files]
    return out


def run_serve(args: argparse.Namespace) -> int:
    from ..errors import ArgumentError
    from ..pretrained import open_model
    from ..serve.access import API_KEY_VARIABLE
    from ..serve.app import create_app, listen, run_server  # first: a missing extra is said before a model loads

    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_VARIABLE)
    if api_key is not None and not api_key.strip():
        raise ArgumentError("the API key is empty: give a key, or none for an open server")
    entries = _expanded(args.served or [{}])
    sock = listen(args.host, args.port)  # a port in use is said before a model loads, too
    models = {}
    for entry in entries:
        model = open_model(entry.get("model"), entry.get("weights"), onnx=True)
        name = entry.get("name", model.name)
        if name in models:
            raise ArgumentError(message := f"two models would be served as {name!r}: give one a --name", cli=message)
        models[name] = model
    limits = Limits(
        max_bytes=args.max_bytes, max_pixels=args.max_pixels, max_batch_size=args.max_batch_size,
        max_wait_ms=args.max_wait_ms, max_queue=args.max_queue, shutdown_timeout=args.shutdown_timeout,
    )  # fmt: skip
    app = create_app(models, limits, optimize=not args.no_optimize, api_key=api_key)
    host, port = sock.getsockname()[:2]
    print(f"serving {', '.join(models)} on http://{host}:{port} (web page at /, API docs at /docs, "
          f"Open Inference Protocol at /v2{', API key required' if api_key else ''})", flush=True)  # fmt: skip
    run_server(app, sock)
    return 0


COMMANDS = (
    Command(
        "serve", "an HTTP service: POST /predict, the Open Inference Protocol at /v2, metrics, a web page at /",
        serve_arguments, run_serve,
    ),
)  # fmt: skip
