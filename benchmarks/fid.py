"""FID end to end, side by side with pytorch-fid and torch-fidelity: two generated folders, the same
weights, each tool run as its users run it, timed from start to exit; the values printed beside.

Usage: python benchmarks/fid.py [--images 2100] [--batch-size 50] [--workers N] [--markdown]

The weights are random weights of the FID network in the references' file layout (BatchNorm
statistics measured on a batch: activations of a usual size), since none can be downloaded here;
pytorch-fid gets them through its own download function, replaced by one that reads the file.
More images than features (2,048) make the covariances full-rank, which pytorch-fid's
``scipy.linalg.sqrtm`` needs. Ours runs with each reference's protocol against that reference.
clean-fid's network is a TorchScript download; its pipeline runs here with pytorch-fid's module (the
same graph, the same file) fed as clean-fid feeds its own.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from predict import make_images, print_table  # noqa: E402

from conftest import fid_reference_weights  # noqa: E402

PYTORCH_FID = """
import sys, torch
from pytorch_fid import fid_score, inception
inception.load_state_dict_from_url = lambda *a, **k: torch.load(sys.argv[1])
print(fid_score.calculate_fid_given_paths(sys.argv[2:4], int(sys.argv[4]), "cpu", 2048, int(sys.argv[5])))
"""

TORCH_FIDELITY = """
import sys, torch_fidelity
metrics = torch_fidelity.calculate_metrics(input1=sys.argv[2], input2=sys.argv[3], fid=True, cuda=False,
    verbose=False, feature_extractor_weights_path=sys.argv[1], batch_size=int(sys.argv[4]), cache=False)
print(metrics["frechet_inception_distance"])
"""

CLEAN_FID = """
import sys, torch
from cleanfid import fid
from pytorch_fid import inception
inception.load_state_dict_from_url = lambda *a, **k: torch.load(sys.argv[1])
network = inception.InceptionV3([3], resize_input=False, normalize_input=False).eval()
extractor = lambda x: network((x - 128) / 128)[0].flatten(1)
print(fid.compute_fid(sys.argv[2], sys.argv[3], mode="clean", custom_feat_extractor=extractor,
    batch_size=int(sys.argv[4]), num_workers=int(sys.argv[5]), device=torch.device("cpu"), use_dataparallel=False,
    verbose=False))
"""


def run(command: list[str]) -> tuple[float, float]:
    """(seconds, the value on the last line of its output)."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{done.stderr[-3000:]}")
    return seconds, float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2100)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--workers", type=int, default=None, help="decode workers (default: ours')")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "inception-zoo-bench-fid"))
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    import pytorch_fid
    import torch_fidelity

    from inception_zoo.batch.options import default_workers

    cache = Path(args.cache)
    workers = default_workers() if args.workers is None else args.workers
    a, b = (make_images(cache / f"{name}-{args.images}", args.images, seed, (256, 256), ".png", (8, 8))
            for name, seed in (("a", 1), ("b", 2)))  # fmt: skip
    weights = fid_reference_weights(cache / "pt_inception-random.pth")
    ours = [sys.executable, "-m", "inception_zoo", "fid", str(a), str(b), "--weights", str(weights),
            "--batch-size", str(args.batch_size), "--workers", str(workers)]  # fmt: skip
    common = [str(weights), str(a), str(b), str(args.batch_size), str(workers)]
    rows = []
    for name, reference, protocol in (
        ("pytorch-fid", [sys.executable, "-c", PYTORCH_FID, *common], "pytorch-fid"),
        ("torch-fidelity", [sys.executable, "-c", TORCH_FIDELITY, *common], "torch-fidelity"),
        ("clean-fid", [sys.executable, "-c", CLEAN_FID, *common], "clean-fid"),
    ):
        their_seconds, their_value = run(reference)
        our_seconds, our_value = run([*ours, "--protocol", protocol])
        rows.append([
            name, f"{2 * args.images / their_seconds:.1f}", f"{2 * args.images / our_seconds:.1f}",
            f"{their_seconds / our_seconds:.2f}x", f"{their_value:.6g}", f"{our_value:.6g}",
            f"{abs(our_value - their_value) / abs(their_value):.1e}",
        ])  # fmt: skip
    print(f"{datetime.date.today().isoformat()}; torch {torch.__version__}, pytorch-fid {pytorch_fid.__version__}, "
          f"torch-fidelity {torch_fidelity.__version__}, clean-fid {version('clean-fid')}; {os.cpu_count()} CPU "
          f"cores; 2 x {args.images} PNGs 256x256, batch {args.batch_size}, {workers} decode workers")  # fmt: skip
    header = ["reference", "its images/s", "ours images/s", "ours / reference", "its FID", "our FID", "rel. diff"]
    print_table(header, rows, args.markdown)


if __name__ == "__main__":
    main()
