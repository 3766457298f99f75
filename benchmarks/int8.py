"""int8 (ONNX Runtime) against our fp32, on this machine, in one process.

Usage: python benchmarks/int8.py [--models NAME ...] [--batch-size 8] [--rounds 7] [--markdown]

Each network gets random weights and BatchNorm statistics (no weights can be downloaded here) and
is quantised by ``quantize_int8`` with 16 calibration images cut from scikit-learn's two sample
photographs; agreement with fp32 (logit SQNR, top-1) is measured on 16 other crops. Rounds then
alternate between our fp32 model after ``optimize_for_inference``, ONNX Runtime running the fp32
export, and ONNX Runtime running the int8 file (both through ``OnnxModel``, as predict and serve
run them). Reported: median images/s and the ratio int8 / our fp32 per round as median (min-max).
Random networks' logits are close together, so their top-1 agreement understates a trained
network's (README: a trained one, measured on digits).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

import torch
import torchvision.transforms.v2.functional as F
from sklearn.datasets import load_sample_images

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from inference import REFERENCES, Table, alternate, spread  # noqa: E402

import inception_zoo  # noqa: E402
from conftest import randomize_batchnorm  # noqa: E402
from inception_zoo.data.transforms import to_normalized_tensor  # noqa: E402
from inception_zoo.export import export  # noqa: E402
from inception_zoo.optimize import quantize_int8  # noqa: E402
from inception_zoo.runtime import OnnxModel  # noqa: E402


def photo_crops(model, count: int, offset: int) -> torch.Tensor:
    """``count`` square crops of scikit-learn's sample photographs, preprocessed for ``model``."""
    size = model.preprocessing.input_size[-1]
    normalize = torch.nn.Sequential(*to_normalized_tensor(model.preprocessing))
    photos = [torch.from_numpy(p.copy()).permute(2, 0, 1) for p in load_sample_images().images]  # 427 x 640
    crops = []
    for i in range(offset, offset + count):
        photo, side = photos[i % 2], 200 + 20 * (i // 2 % 8)
        top, left = (37 * i) % (427 - side), (53 * i) % (640 - side)
        crops.append(normalize(F.resized_crop(photo, top, left, side, side, [size, size], antialias=True)))
    return torch.stack(crops)


def bench(name: str, batch_size: int, rounds: int) -> dict:
    torch.manual_seed(0)
    model = randomize_batchnorm(inception_zoo.create_model(name)).eval()
    calibration, check = photo_crops(model, 16, 0), photo_crops(model, 16, 16)
    with tempfile.TemporaryDirectory() as work, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = quantize_int8(model, Path(work) / "int8.onnx", calibration=calibration.split(8), check=check)
        export(model, Path(work) / "fp32.onnx")
        int8, fp32 = OnnxModel(report.path), OnnxModel(Path(work) / "fp32.onnx")  # as predict and serve run them
    fast = inception_zoo.optimize_for_inference(model)
    x = photo_crops(model, batch_size, 32)
    variants = {
        "ours fp32": lambda: fast(x),
        "onnxruntime fp32": lambda: fp32(x),
        "onnxruntime int8": lambda: int8(x),
    }
    with torch.inference_mode():
        for run in variants.values():
            run()
        times = alternate(variants, rounds)
    ratios = [t_ours / t_int8 for t_ours, t_int8 in zip(times["ours fp32"], times["onnxruntime int8"], strict=True)]
    return {
        "name": name,
        **{label: batch_size / statistics.median(ts) for label, ts in times.items()},
        "ratio": spread(ratios),
        "sqnr": report.sqnr_db,
        "agreement": report.top1_agreement,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(REFERENCES), choices=inception_zoo.list_models())
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, rounds {args.rounds}", file=sys.stderr)
    header = ["network", "ours fp32 img/s", "ORT fp32 img/s", "ORT int8 img/s", "int8 / ours fp32",
              "SQNR (dB)", "top-1 agreement"]  # fmt: skip
    table = Table(header, args.markdown)
    for name in args.models:
        row = bench(name, args.batch_size, args.rounds)
        cells = [
            name,
            f"{row['ours fp32']:.1f}",
            f"{row['onnxruntime fp32']:.1f}",
            f"{row['onnxruntime int8']:.1f}",
            row["ratio"],
            f"{row['sqnr']:.1f}",
            f"{row['agreement']:.0%}",
        ]
        table.row(cells)


if __name__ == "__main__":
    main()
