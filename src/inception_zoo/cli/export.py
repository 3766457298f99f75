"""``export`` (ONNX, torch.export) and ``quantize`` (int8 ONNX), each checked against the model."""

from __future__ import annotations

import argparse
import sys

from ..data.options import DATASETS
from ..errors import ArgumentError
from ..formats import EXPORT_FORMATS
from ._command import Command, add_model_options, model_from, positive_int


def export_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser)
    parser.add_argument("--format", choices=tuple(EXPORT_FORMATS), default="onnx", help="(default: onnx)")
    parser.add_argument("--output", help="the file to write (default: <model>.onnx or <model>.pt2)")
    parser.add_argument("--static-size", action="store_true", help="fix height and width (the batch stays dynamic)")


def run_export(args: argparse.Namespace) -> int:
    from ..export import export

    model = model_from(args)
    output = args.output or f"{model.name}{EXPORT_FORMATS[args.format]}"
    report = export(model, output, format=args.format, dynamic_spatial=not args.static_size)
    worst = max(check["max_relative_error"] for check in report.checks)
    shapes = ", ".join("x".join(map(str, c["input_shape"])) for c in report.checks)
    print(f"{report.path}: {args.format}, dynamic {', '.join(report.dynamic_axes)}; checked against the eager model")
    print(f"  at {shapes}: max relative error {worst:.1e}")
    return 0


def quantize_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser)
    images = parser.add_mutually_exclusive_group()
    images.add_argument("--calibration", nargs="+", help="image files or folders like the ones the model will see")
    images.add_argument("--dataset", choices=tuple(DATASETS), help="calibrate on its train split, check on val")
    parser.add_argument("--check", nargs="+", help="held-out images to measure agreement on (default: the calibration)")
    parser.add_argument(
        "--max-images",
        type=positive_int,
        default=256,
        help="at most this many images each, spread evenly (default: 256)",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=16, help="images per calibration batch (default: 16)"
    )
    parser.add_argument("--min-sqnr", type=float, default=20.0, help="refuse a model whose logits' SQNR (dB) is lower")
    parser.add_argument("--output", help="the file to write (default: <model>.int8.onnx)")


def _spread(count: int, limit: int) -> list[int]:
    """``min(count, limit)`` indices spread evenly over ``range(count)``."""
    taken = min(count, limit)
    return [i * count // taken for i in range(taken)]


def _images_for(model, paths: list[str], limit: int):
    """Up to ``limit`` image files under ``paths`` with the model's eval preprocessing, as one batch."""
    import torch

    from ..batch.inputs import check_inputs, count_items, walk_items
    from ..batch.loading import preprocess
    from ..data.transforms import transforms_for

    files, transform, images = check_inputs(paths), transforms_for(model), []
    wanted = set(_spread(count_items(files), limit))
    for item, load in walk_items(files):
        if item.index in wanted:
            try:
                images.append(preprocess(load(), transform))
            except ArgumentError as e:
                print(f"skipped {item.path}: {e}", file=sys.stderr)
    if not images:
        raise ArgumentError(f"no readable images in {', '.join(paths)}")
    return torch.stack(images)


def run_quantize(args: argparse.Namespace) -> int:
    import torch
    from torch.utils.data import Subset

    from ..data.datasets import load_datasets
    from ..data.transforms import transforms_for
    from ..optimize.int8 import quantize_int8

    model = model_from(args)
    if args.dataset:
        transform = transforms_for(model)
        train, val, _ = load_datasets(
            dataset=args.dataset, train_transform=transform, val_transform=transform,
            image_size=model.preprocessing.input_size[-1],
        )  # fmt: skip
        calibration, check = (
            torch.stack([image for image, _ in Subset(d, _spread(len(d), args.max_images))]) for d in (train, val)
        )
    elif args.calibration:
        calibration = _images_for(model, args.calibration, args.max_images)
        check = _images_for(model, args.check, args.max_images) if args.check else None
    else:
        raise ArgumentError(
            "pass --calibration IMAGES_OR_FOLDERS (images like the ones the model will see) or --dataset"
        )
    output = args.output or f"{model.name}.int8.onnx"
    report = quantize_int8(
        model, output, calibration=calibration.split(args.batch_size), check=check, min_sqnr_db=args.min_sqnr
    )
    on = "the calibration images" if check is None else f"{report.check_images} held-out images"
    print(f"{report.path}: int8 (ONNX Runtime QDQ), calibrated on {report.calibration_images} images")
    print(f"  against fp32 on {on}: SQNR {report.sqnr_db:.1f} dB, top-1 agreement {report.top1_agreement:.1%}")
    return 0


COMMANDS = (
    Command("export", "ONNX or torch.export, verified against the eager model", export_arguments, run_export),
    Command(
        "quantize",
        "int8 ONNX (ONNX Runtime), calibrated on images, checked against fp32",
        quantize_arguments,
        run_quantize,
    ),  # fmt: skip
)
