"""``list``, ``weights``, ``recipes`` (from plain data: they load no torch) and ``info``."""

from __future__ import annotations

import argparse
import fnmatch
import json
from dataclasses import asdict

from ..catalog import catalog
from ..errors import ArgumentError
from ..train.recipes import RECIPES
from ._command import Command, format_table


def _rows(pattern: str | None) -> list[dict]:
    """The catalog's rows whose name matches ``pattern`` (all without one); none is an error."""
    rows = [row for row in catalog() if pattern is None or fnmatch.fnmatch(row["name"], pattern)]
    if not rows:
        raise ArgumentError(f"no network matches {pattern!r}: see 'inception-zoo list'")
    return rows


def _pattern_and_formats(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", help="a glob such as 'inception_v*'")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")


def run_list(args: argparse.Namespace) -> int:
    rows = _rows(args.pattern)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ["name", "paper", "params (M)", "GMACs", "input size", "matches"]
    table = [
        [
            r["name"],
            f"arXiv {r['paper']['arxiv']}",
            f"{r['params'] / 1e6:.2f}",
            f"{r['gmacs']:.2f}",
            "x".join(map(str, r["preprocessing"]["input_size"][1:])),
            ", ".join(r["references"]) or "-",
        ]
        for r in rows
    ]
    print(format_table(header, table, args.markdown))
    return 0


def run_weights(args: argparse.Namespace) -> int:
    rows = _rows(args.pattern)
    if args.json:
        print(json.dumps([dict(entry, model=row["name"]) for row in rows for entry in row["weights"]], indent=2))
        return 0
    table = []
    for row in rows:
        for i, entry in enumerate(row["weights"]):
            top = f"{entry['top1']:.2f} / {entry['top5']:.2f}" if entry["top1"] is not None else "-"
            tag = entry["tag"] + (" (default)" if i == 0 else "")
            table.append([row["name"], tag, top, entry["metrics_source"] or "-"])
    print(format_table(["name", "weights", "top-1 / top-5", "published by"], table, args.markdown))
    return 0


def recipes_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output, with the notes")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")


def run_recipes(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps([asdict(r) for r in RECIPES.values()], indent=2))
        return 0
    rows = []
    for r in RECIPES.values():
        if r.schedule == "step":
            schedule = f"x{r.decay_rate} every {r.decay_epochs:g} epochs"
        else:
            schedule = "cosine" + (f", {100 * r.warmup_fraction:.0f}% warmup" if r.warmup_fraction else "")
        extras = [f"label smoothing {r.label_smoothing}"] if r.label_smoothing else []
        extras += [f"aux weight {r.aux_weight}"] if r.aux_weight else []
        extras += [f"clip {r.grad_clip}"] if r.grad_clip else []
        extras += [f"EMA {r.ema_decay}"] if r.ema_decay else []
        extras += [f"dropout {r.drop_rate}"] if r.drop_rate else []
        rows.append([r.name, r.optimizer, f"{r.lr:g}", f"{r.weight_decay:g}", schedule, ", ".join(extras) or "-",
                     r.source])  # fmt: skip
    header = ["recipe", "optimizer", "lr", "weight decay", "schedule", "also", "source"]
    print(format_table(header, rows, args.markdown))
    return 0


def info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="a network from 'inception-zoo list'")
    parser.add_argument("--image-size", type=int, help="input size for the shapes (default: the network's)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run_info(args: argparse.Namespace) -> int:
    from ..models._zoo import model_info, model_table
    from ..summary import stage_shapes

    info = model_info(args.name)
    shapes = stage_shapes(args.name, image_size=args.image_size)
    if args.json:
        print(json.dumps({"info": model_table(args.name)[0], "shapes": dict(shapes)}, indent=2))
        return 0
    pre = info.preprocessing
    print(f"{info.name}: {info.paper.title} ({info.paper.url})")
    if info.notes:
        print(f"  {info.notes}")
    print(f"  parameters    {info.params:,} (1000 classes, without side classifiers)")
    print(f"  GMACs         {info.gmacs:.3f} at {pre.input_size[1]}x{pre.input_size[2]}")
    print(f"  input         {pre.input_size}, at least {info.min_input_size}x{info.min_input_size}")
    print(f"  preprocessing resize to {pre.input_size[-1]}/{pre.crop_pct} then center-crop, {pre.interpolation};")
    low, high = pre.input_range
    print(f"                mean {pre.mean}, std {pre.std} on {pre.channel_order} in [{low:g}, {high:g}]")
    if info.aux_heads:
        weight = info.aux_loss_weight
        print(f"  side heads    {info.aux_heads} with aux_logits=True (loss weight {weight}; not counted above)")
    else:
        print("  side heads    0")
    print(f"  matches       {', '.join(info.references) or '-'}")
    print()
    print(format_table(["layer", "output shape"], [[n, " x ".join(map(str, s))] for n, s in shapes], False))
    return 0


COMMANDS = (
    Command("list", "the registered networks", _pattern_and_formats, run_list),
    Command("info", "one network: paper, preprocessing, params, GMACs, stage shapes", info_arguments, run_info),
    Command(
        "weights", "the published weights each network loads, with their accuracy", _pattern_and_formats, run_weights
    ),  # fmt: skip
    Command("recipes", "the training recipes, with their sources", recipes_arguments, run_recipes),
)
