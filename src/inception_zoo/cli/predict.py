"""``predict``: top-k classes of images or folders of images."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from ..errors import ArgumentError
from ._command import Command, add_model_options, model_from, positive_int


def predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", help="image files or folders (searched recursively)")
    add_model_options(parser)
    parser.add_argument("--topk", type=positive_int, default=5, help="classes per image (default: 5)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="images per model call (default: 8)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run_predict(args: argparse.Namespace) -> int:
    from ..predict import predict

    model = model_from(args, onnx=True)
    results = predict(model, args.images, topk=args.topk, batch_size=args.batch_size)
    if not results:
        raise ArgumentError(f"no images found in {', '.join(args.images)}")
    if args.json:
        print(json.dumps({"model": model.name, "predictions": [asdict(r) for r in results]}, indent=2))
    else:
        for result in results:
            best = ", ".join(f"{p['label']} ({p['score']:.3f})" for p in result.top)
            print(f"{result.path}: {result.error or best}")
    return 1 if any(r.error for r in results) else 0


COMMANDS = (Command("predict", "top-k classes of images or folders of images", predict_arguments, run_predict),)
