"""``make demo``: train a small Inception on handwritten digits, evaluate it, save it, predict with it.

Runs offline on two CPU cores in a few minutes (the digits ship with scikit-learn). Each step
is one call of the public API; the README shows the same steps as commands.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from .batch.api import predict
from .data.datasets import DigitsDataset
from .errors import ArgumentError, InceptionZooError
from .evaluate import evaluate
from .train.config import TrainConfig
from .train.folder import RunFolder
from .train.loop import train
from .weights import load_model

MODEL = "inception_next_atto_cifar"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inception_zoo.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="runs/demo", help="the run's folder (default: runs/demo)")
    parser.add_argument("--epochs", type=_positive, default=6, help="(default: 6)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier run in --output (the folder's other files stay)"
    )
    args = parser.parse_args(argv)
    try:
        return _demo(Path(args.output), args.epochs, args.overwrite)
    except InceptionZooError as e:
        print(f"inception-zoo demo: error: {e}", file=sys.stderr)
        return e.exit_code


def _demo(output: Path, epochs: int, overwrite: bool) -> int:
    config = TrainConfig(model=MODEL, dataset="digits", epochs=epochs, batch_size=64, lr=2e-3, output=str(output))
    folder = RunFolder(output)
    if folder.holds_a_run():
        if not overwrite:
            raise ArgumentError(f"{output} holds an earlier run: pass --overwrite to replace it (other files stay)")
        folder.remove_run()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    result = train(config)
    trained = time.perf_counter() - started

    model = load_model(folder.weights)
    val = DigitsDataset("val", size=model.preprocessing.input_size[-1])
    result_val = evaluate(model, val)

    samples = output / "samples"
    samples.mkdir(exist_ok=True)
    for i in range(4):
        image, target = val[i]
        image.save(samples / f"digit_{i}_true_{target}.png")
    predictions = list(predict(model, samples, topk=3, workers=0))

    print()
    print(f"inception-zoo demo: {MODEL} on scikit-learn's handwritten digits ({len(val)} validation images)")
    print(f"  trained {result.epochs} epochs in {trained:.0f} s on the CPU; curves: {folder.curves}")
    print(f"  val top-1 {result_val.top1:.1f}%, top-5 {result_val.top5:.1f}% (chance: 10% and 50%)")
    for p in predictions:
        best = p.top[0]
        print(f"  {Path(p.path).name}: predicted {best['label']} ({best['score']:.2f})")
    print(
        f"  weights: {folder.weights} (the last epoch; inception_zoo.load_model, or 'inception-zoo predict --weights')"
    )
    print(f"  the best epoch's: {folder.best_weights} (val top-1 {result.best_top1:.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
