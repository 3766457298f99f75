"""``train`` (its options are ``TrainConfig``'s fields) and ``eval``."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path

from ..data.options import CROPS, DATASETS
from ..train.config import TrainConfig
from ._command import Command, add_config_options, config_from, format_table, positive_int


def train_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_options(parser, TrainConfig)


def run_train(args: argparse.Namespace) -> int:
    from ..train.loop import train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = train(config_from(args, TrainConfig))
    if result.unreadable:
        print(f"skipped {len(result.unreadable)} unreadable images (named in {result.output / 'train.log'})")
    print(result.summary())
    return 0


def eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--weights", required=True, help="one of our .safetensors or .onnx files (a run's model.safetensors)"
    )
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help="a folder of class folders (or one with val/ inside)")
    data.add_argument("--dataset", choices=tuple(DATASETS), help="a named data set's val split")
    parser.add_argument("--crops", type=int, default=1, choices=CROPS, help="the papers' multi-crop protocols")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="images per model call (default: 32)")
    parser.add_argument("--workers", type=int, default=0, help="data loading processes (default: 0)")
    parser.add_argument("--confusion", help="where to write the confusion-matrix PNG (default: beside the weights)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run_eval(args: argparse.Namespace) -> int:
    from ..data.datasets import load_datasets
    from ..evaluate import evaluate
    from ..plots import plot_confusion
    from ..weights import load_model

    model = load_model(args.weights)
    data = args.data
    if args.dataset:
        _, data, _ = load_datasets(dataset=args.dataset, image_size=model.preprocessing.input_size[-1])
    result = evaluate(model, data, crops=args.crops, batch_size=args.batch_size, workers=args.workers)
    labels = getattr(model, "labels", None) or [str(i) for i in range(len(result.per_class))]
    confusion = Path(args.confusion or Path(args.weights).with_suffix("").as_posix() + "-confusion.png")
    plot_confusion(result.confusion, labels, confusion, title=f"{model.name}, {args.crops} crop(s)")
    if args.json:
        print(json.dumps({"model": model.name, "crops": args.crops, **asdict(result), "confusion_png": str(confusion)}))
        return 0
    print(f"{model.name} on {result.count} images, {args.crops} crop(s) each:")
    print(f"  top-1 {result.top1:.2f}%  top-5 {result.top5:.2f}%  loss {result.loss:.4f}")
    rows = [[labels[c], f"{acc:.2f}" if acc is not None else "-"] for c, acc in enumerate(result.per_class)]
    print(format_table(["class", "top-1 (%)"], rows, False))
    if result.unreadable:
        print(f"skipped {len(result.unreadable)} unreadable images: {', '.join(result.unreadable)}")
    print(f"confusion matrix: {confusion}")
    return 0


COMMANDS = (
    Command("train", "train a network (under torchrun: on many processes with DDP)", train_arguments, run_train),
    Command("eval", "top-1/top-5, loss, per-class accuracy and a confusion matrix", eval_arguments, run_eval),
)
