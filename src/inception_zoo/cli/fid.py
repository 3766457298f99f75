"""``fid``, ``fid-stats``, ``kid``, ``inception-score``: scoring image generators with the FID network."""

from __future__ import annotations

import argparse
import json
import sys

from ..fid.options import DEFAULT_PROTOCOL, PROTOCOLS
from ._command import Command, positive_int


def _common(parser: argparse.ArgumentParser, sets: int) -> None:
    what = "folders, .txt lists or .tar shards of images" + (", or .npz statistics" if sets < 0 else "")
    parser.add_argument("sets", nargs=abs(sets), metavar="SET", help=what)
    parser.add_argument(
        "--weights", help="the FID network's weights: pytorch-fid's or torch-fidelity's .pth (default: pytorch-fid's, "
        "downloaded once)",
    )  # fmt: skip
    parser.add_argument(
        "--protocol", choices=PROTOCOLS, default=DEFAULT_PROTOCOL,
        help=f"whose resize and scaling (default: {DEFAULT_PROTOCOL}, the original TensorFlow code's arithmetic)",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=positive_int, default=50, help="images per model call (default: 50)")
    parser.add_argument("--workers", type=int, default=None, help="decode processes (default: one per core but one)")
    parser.add_argument("--device", help="cpu, cuda ... (default: the GPU if there is one)")
    parser.add_argument("--json", action="store_true", help="the value and what it was computed from, as JSON")


def _options(args: argparse.Namespace) -> dict:
    return dict(protocol=args.protocol, batch_size=args.batch_size, workers=args.workers, device=args.device)


def _read(args, source, model, **kwargs):
    """Features of one set, with its skipped images named on stderr."""
    from ..fid.api import features_of

    return features_of(source, model=model, on_skip=_say_skipped, **_options(args), **kwargs)


def _say_skipped(path: str, why: str) -> None:
    print(f"skipped {path}: {why}", file=sys.stderr)


def _print(args, name: str, value: float, **more) -> int:
    if args.json:
        print(json.dumps({name: value, "protocol": args.protocol, **more}))
    else:
        print(f"{name}: {value:.6g}" + "".join(f", {k} {v}" for k, v in more.items() if not isinstance(v, dict)))
        print(f"{value:.6g}")
    return 0


def run_fid(args: argparse.Namespace) -> int:
    from ..fid.api import STATISTICS_SUFFIX, fid_model
    from ..fid.statistics import frechet_distance, load_statistics

    model = None if all(s.endswith(STATISTICS_SUFFIX) for s in args.sets) else fid_model(args.weights)
    stats, counts = [], {}
    for source in args.sets:
        if source.endswith(STATISTICS_SUFFIX):
            stats.append(load_statistics(source))
        else:
            read = _read(args, source, model)
            stats.append(read.statistics)
            counts[source] = {"images": read.statistics.count, "skipped": len(read.skipped)}
    return _print(args, "fid", frechet_distance(*stats), sets=counts)


def run_fid_stats(args: argparse.Namespace) -> int:
    from .._files import writable
    from ..fid.api import fid_model

    writable(args.output)
    read = _read(args, args.sets[0], fid_model(args.weights))
    read.statistics.save(args.output)
    print(
        f"{args.output}: mu and sigma of {read.statistics.count} images ({len(read.skipped)} skipped)", file=sys.stderr
    )
    return 0


def run_kid(args: argparse.Namespace) -> int:
    from ..fid.api import fid_model
    from ..fid.statistics import kernel_inception_distance

    model = fid_model(args.weights)
    first, second = (_read(args, s, model, keep=True).features for s in args.sets)
    mean, std = kernel_inception_distance(first, second, subsets=args.subsets, subset_size=args.subset_size)
    return _print(args, "kid", mean, std=std, subsets=args.subsets, subset_size=args.subset_size)


def run_inception_score(args: argparse.Namespace) -> int:
    from ..fid.api import fid_model
    from ..fid.statistics import inception_score

    logits = _read(args, args.sets[0], fid_model(args.weights), logits=True).logits
    mean, std = inception_score(logits, splits=args.splits)
    return _print(args, "inception_score", mean, std=std, splits=args.splits)


def fid_arguments(parser):
    _common(parser, -2)


def fid_stats_arguments(parser):
    _common(parser, 1)
    parser.add_argument("-o", "--output", required=True, help="the .npz to write (pytorch-fid's layout: mu, sigma)")


def kid_arguments(parser):
    _common(parser, 2)
    parser.add_argument("--subsets", type=positive_int, default=100, help="random subsets (default: 100)")
    parser.add_argument("--subset-size", type=positive_int, default=1000, help="images per subset (default: 1000)")


def inception_score_arguments(parser):
    _common(parser, 1)
    parser.add_argument("--splits", type=positive_int, default=10, help="parts the set is cut into (default: 10)")


# Streams of images: without the freed-memory setting (see _command.Command).
_STREAM = dict(keeps_freed_memory=False)
COMMANDS = (
    Command("fid", "Frechet Inception Distance between two image sets or .npz statistics", fid_arguments, run_fid,
            **_STREAM),
    Command("fid-stats", "the FID statistics (mu, sigma) of an image set, as pytorch-fid's .npz", fid_stats_arguments,
            run_fid_stats, **_STREAM),
    Command("kid", "Kernel Inception Distance between two image sets", kid_arguments, run_kid, **_STREAM),
    Command("inception-score", "the Inception Score of an image set", inception_score_arguments, run_inception_score,
            **_STREAM),
)  # fmt: skip
