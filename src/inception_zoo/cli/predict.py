"""``predict`` and ``embed``: top-k classes or embeddings of many images, streamed, to a resumable file."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from ..batch.options import COMPUTE_DTYPES, EMBEDDING_DTYPES, OUTPUT_SUFFIXES, PART_SIZE
from ._command import Command, add_model_options, model_from, positive_int


def _common_arguments(parser: argparse.ArgumentParser, task: str) -> None:
    parser.add_argument(
        "images", nargs="+",
        help="image files, folders (searched recursively), .txt files listing image paths, .tar shards",
    )  # fmt: skip
    add_model_options(parser)
    suffixes = ", ".join(OUTPUT_SUFFIXES[task])
    parser.add_argument(
        "--output", required=task == "embed", metavar="FILE",
        help=f"write the rows to FILE ({suffixes}, by its suffix); the same command again resumes an interrupted run",
    )  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace a finished --output instead of refusing")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="images per model call (default: 32)")
    parser.add_argument(
        "--workers", type=int, default=None,
        help="processes that decode and preprocess (default: one per core but one, at most 8; 0: none)",
    )  # fmt: skip
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: the GPU if there is one; under torchrun each "
                        "process's own)")  # fmt: skip
    parser.add_argument(
        "--compute-dtype", choices=COMPUTE_DTYPES, default="float32",
        help="the precision the model computes in (bfloat16, float16: for GPUs)",
    )  # fmt: skip
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the optimised model (pays off on long runs)"
    )
    parser.add_argument(
        "--no-optimize", dest="optimize", action="store_false",
        help="run the network as built, not through optimize_for_inference (same outputs to 1e-4, faster)",
    )  # fmt: skip
    parser.add_argument(
        "--part-size", type=positive_int, default=PART_SIZE,
        help=f"images per part file of --output: what an interruption can cost (default: {PART_SIZE})",
    )  # fmt: skip


def _options(args: argparse.Namespace) -> dict:
    return dict(
        batch_size=args.batch_size, workers=args.workers, device=args.device, optimize=args.optimize,
        compute_dtype=args.compute_dtype, compile=args.compile,
    )  # fmt: skip


def _file_options(args: argparse.Namespace) -> dict:
    return _options(args) | dict(overwrite=args.overwrite, part_size=args.part_size)


def _report(summary) -> int:
    if summary.errors < 0:  # not the first process under torchrun: that one reports
        return 0
    earlier = f", {summary.resumed} of them by an earlier run" if summary.resumed else ""
    print(
        f"{summary.images} images written to {summary.output}{earlier}; {summary.errors} could not be read; "
        f"{summary.images_per_second:.1f} images/s",
        file=sys.stderr,
    )
    return 1 if summary.errors else 0


def predict_arguments(parser: argparse.ArgumentParser) -> None:
    _common_arguments(parser, "predict")
    parser.add_argument("--topk", type=positive_int, default=5, help="classes per image (default: 5)")
    parser.add_argument("--json", action="store_true", help="without --output: JSON on stdout")


def run_predict(args: argparse.Namespace) -> int:
    from ..batch.api import predict, predict_to_file

    model = model_from(args, onnx=True)
    if args.output:
        return _report(predict_to_file(model, args.images, args.output, topk=args.topk, **_file_options(args)))
    errors = 0
    if args.json:  # one JSON document, written as the rows come: {"model": ..., "predictions": [...]}
        print(f'{{"model": {json.dumps(model.name)}, "predictions": [', end="")
    for i, result in enumerate(predict(model, args.images, topk=args.topk, **_options(args))):
        errors += result.error is not None
        if args.json:
            print(("" if i == 0 else ",") + "\n  " + json.dumps(asdict(result)), end="")
        else:
            best = ", ".join(f"{p['label']} ({p['score']:.3f})" for p in result.top)
            print(f"{result.path}: {result.error or best}")
    if args.json:
        print("\n]}")
    return 1 if errors else 0


def embed_arguments(parser: argparse.ArgumentParser) -> None:
    _common_arguments(parser, "embed")
    parser.add_argument(
        "--layer", help="a feature map (see 'inception-zoo info NAME'), average-pooled, instead of the pre-logits"
    )
    parser.add_argument("--dtype", choices=EMBEDDING_DTYPES, default="float32", help="how the embeddings are stored")


def run_embed(args: argparse.Namespace) -> int:
    from ..batch.api import embed_to_file

    model = model_from(args)
    return _report(embed_to_file(model, args.images, args.output, layer=args.layer, dtype=args.dtype,
                                 **_file_options(args)))  # fmt: skip


COMMANDS = (
    Command(
        "predict",
        "top-k classes of images, folders, lists or tar shards",
        predict_arguments,
        run_predict,
        keeps_freed_memory=False,
    ),
    Command(
        "embed",
        "embeddings (pooled features) of images, to .parquet or .npy",
        embed_arguments,
        run_embed,
        keeps_freed_memory=False,
    ),
)
