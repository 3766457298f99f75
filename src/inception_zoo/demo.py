"""``make demo``: train a small Inception on handwritten digits, evaluate it, save it, predict with it.

Runs offline on two CPU cores in a few minutes (the digits ship with scikit-learn). Each step
is one call of the public API; the README shows the same steps as commands.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path

from .data.datasets import DigitsDataset
from .evaluate import evaluate
from .predict import predict
from .train.config import TrainConfig
from .train.loop import train
from .weights import load_model

MODEL = "inception_next_atto_cifar"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inception_zoo.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="runs/demo", help="the run's folder (replaced)")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    output = Path(args.output)
    shutil.rmtree(output, ignore_errors=True)

    started = time.perf_counter()
    config = TrainConfig(model=MODEL, dataset="digits", epochs=args.epochs, batch_size=64, lr=2e-3, output=str(output))
    result = train(config)
    trained = time.perf_counter() - started

    model = load_model(output / "model.safetensors")
    val = DigitsDataset("val", size=model.preprocessing.input_size[-1])
    result_val = evaluate(model, val)

    samples = output / "samples"
    samples.mkdir()
    for i in range(4):
        image, target = val[i]
        image.save(samples / f"digit_{i}_true_{target}.png")
    predictions = predict(model, [samples], topk=3)

    print()
    print(f"inception-zoo demo: {MODEL} on scikit-learn's handwritten digits ({len(val)} validation images)")
    print(f"  trained {result.epochs} epochs in {trained:.0f} s on the CPU; curves: {output / 'curves.png'}")
    print(f"  val top-1 {result_val.top1:.1f}%, top-5 {result_val.top5:.1f}% (chance: 10% and 50%)")
    for p in predictions:
        best = p.top[0]
        print(f"  {Path(p.path).name}: predicted {best['label']} ({best['score']:.2f})")
    print(f"  weights: {output / 'model.safetensors'} (inception_zoo.load_model, or 'inception-zoo predict --weights')")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
