"""The ``inception-zoo`` command: a thin shell over the library."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .models import model_info
from .summary import model_table, stage_shapes


def _format_table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [header, ["-" * w for w in widths], *rows])


def cmd_list(args: argparse.Namespace) -> int:
    table = model_table(args.pattern)
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    header = ["name", "paper", "params (M)", "GMACs", "input size", "matches"]
    rows = [
        [
            r["name"],
            f"arXiv {r['paper']['arxiv']}",
            f"{r['params'] / 1e6:.2f}",
            f"{r['gmacs']:.2f}",
            "x".join(map(str, r["input_size"][1:])),
            ", ".join(r["references"]) or "-",
        ]
        for r in table
    ]
    print(_format_table(header, rows, args.markdown))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    info = model_info(args.name)
    shapes = stage_shapes(args.name, image_size=args.image_size)
    if args.json:
        print(json.dumps({"info": model_table(args.name)[0], "shapes": dict(shapes)}, indent=2))
        return 0
    print(f"{info.name}: {info.paper.title} ({info.paper.url})")
    if info.notes:
        print(f"  {info.notes}")
    print(f"  parameters    {info.params:,} (1000 classes, without side classifiers)")
    print(f"  GMACs         {info.gmacs:.3f} at {info.input_size[1]}x{info.input_size[2]}")
    print(f"  input         {info.input_size}, at least {info.min_input_size}x{info.min_input_size}")
    print(f"  preprocessing resize to {info.input_size[-1]}/{info.crop_pct} then center-crop, {info.interpolation};")
    low, high = info.input_range
    print(f"                mean {info.mean}, std {info.std} on {info.channel_order} in [{low:g}, {high:g}]")
    print(f"  side heads    {info.aux_heads}" + (f" (loss weight {info.aux_loss_weight})" if info.aux_heads else ""))
    print(f"  matches       {', '.join(info.references) or '-'}")
    print()
    print(_format_table(["layer", "output shape"], [[n, " x ".join(map(str, s))] for n, s in shapes], False))
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from .models import list_models

    rows = []
    for name in list_models(args.pattern):
        for i, entry in enumerate(model_info(name).weights):
            top = f"{entry.top1:.2f} / {entry.top5:.2f}" if entry.top1 is not None else "-"
            rows.append([name, entry.tag + (" (default)" if i == 0 else ""), top, entry.metrics_source or "-"])
    if args.json:
        from dataclasses import asdict

        entries = [dict(asdict(e), model=n) for n in list_models(args.pattern) for e in model_info(n).weights]
        print(json.dumps(entries, indent=2))
        return 0
    print(_format_table(["name", "weights", "top-1 / top-5", "published by"], rows, args.markdown))
    return 0


def _model_from(args: argparse.Namespace, *, onnx: bool = False):
    """``--model NAME [--weights W]`` (default: the network's published weights) or ``--weights FILE`` of ours
    (with ``onnx``, also an exported or int8 ``.onnx`` file, run by ONNX Runtime)."""
    from .models import create_model
    from .weights import load_model

    if args.model:
        return create_model(args.model, weights=args.weights if args.weights else True)
    if args.weights:
        if args.weights.endswith(".onnx") and not onnx:
            raise ValueError(f"{args.command} needs the network's weights (.safetensors), not an ONNX file")
        return load_model(args.weights)
    raise ValueError("pass --model NAME (with its default weights, or --weights), or --weights FILE of ours")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="a network; with no --weights, its default published weights")
    p.add_argument(
        "--weights", help="a weight tag or checkpoint file (alone: one of our .safetensors files, or for predict "
        "and serve an .onnx file from export or quantize)",
    )  # fmt: skip


def cmd_predict(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .predict import predict

    model = _model_from(args, onnx=True)
    results = predict(model, args.images, topk=args.topk, batch_size=args.batch_size)
    if not results:
        raise ValueError(f"no images found in {', '.join(args.images)}")
    if args.json:
        print(json.dumps({"model": model.name, "predictions": [asdict(r) for r in results]}, indent=2))
    else:
        for result in results:
            best = ", ".join(f"{p['label']} ({p['score']:.3f})" for p in result.top)
            print(f"{result.path}: {result.error or best}")
    return 1 if any(r.error for r in results) else 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .convert import read_state_dict, recognise
    from .models import create_model
    from .weights import save_weights

    name = args.model
    if name is None:
        layout = recognise(read_state_dict(args.source))
        if layout is None or len(layout.models) != 1:
            options = ", ".join(layout.models) if layout else "any network"
            raise ValueError(f"cannot tell which network {args.source} is for: pass --model ({options})")
        name = layout.models[0]
    model = create_model(name, weights=args.source)
    path = save_weights(model, args.destination)
    print(f"{args.source} -> {path} ({name}, {model.provenance.get('source')}, {model.num_classes} classes)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import logging

    from .train import Interrupted, TrainConfig, TrainingDiverged, train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.resume and not args.model:
        raise ValueError("pass --model NAME (or --resume DIR/last.pt to continue a run)")
    given = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None}
    try:
        result = train(TrainConfig(**given))
    except TrainingDiverged as e:
        print(f"inception-zoo: training stopped: {e}", file=sys.stderr)
        return 1
    except Interrupted as e:
        print(f"inception-zoo: {e}", file=sys.stderr)
        return 130
    if result.unreadable:
        print(f"skipped {len(result.unreadable)} unreadable images (named in {result.output / 'train.log'})")
    print(f"best val top-1 {result.best_top1:.2f}% after {result.epochs} epochs; weights: {result.output}")
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .train import RECIPES

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
        rows.append([r.name, r.optimizer, f"{r.lr:g}", f"{r.weight_decay:g}", schedule, ", ".join(extras) or "-",
                     r.source])  # fmt: skip
    header = ["recipe", "optimizer", "lr", "weight decay", "schedule", "also", "source"]
    print(_format_table(header, rows, args.markdown))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    from pathlib import Path

    from .evaluate import evaluate
    from .plots import plot_confusion
    from .weights import load_model

    model = load_model(args.weights)
    data = args.data
    if args.dataset:
        from .data.datasets import load_datasets

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
    print(_format_table(["class", "top-1 (%)"], rows, False))
    if result.unreadable:
        print(f"skipped {len(result.unreadable)} unreadable images: {', '.join(result.unreadable)}")
    print(f"confusion matrix: {confusion}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import FORMATS, export

    model = _model_from(args)
    output = args.output or f"{model.name}{FORMATS[args.format]}"
    report = export(model, output, format=args.format, dynamic_spatial=not args.static_size)
    worst = max(check["max_relative_error"] for check in report.checks)
    shapes = ", ".join("x".join(map(str, c["input_shape"])) for c in report.checks)
    print(f"{report.path}: {args.format}, dynamic {', '.join(report.dynamic_axes)}; checked against the eager model")
    print(f"  at {shapes}: max relative error {worst:.1e}")
    return 0


def _spread(count: int, limit: int) -> range:
    """At most ``limit`` indices spread evenly over ``range(count)``."""
    return range(0, count, max(1, -(-count // limit)))


def _images_for(model, paths: list[str], limit: int):
    """Up to ``limit`` image files under ``paths`` with the model's eval preprocessing, as one batch."""
    import torch

    from .data.transforms import transforms_for
    from .predict import expand_images, read_image

    files, transform, images = expand_images(paths), transforms_for(model), []
    for path in (files[i] for i in _spread(len(files), limit)):
        try:
            images.append(read_image(path, transform))
        except ValueError as e:
            print(f"skipped {path}: {e}", file=sys.stderr)
    if not images:
        raise ValueError(f"no readable images in {', '.join(paths)}")
    return torch.stack(images)


def cmd_quantize(args: argparse.Namespace) -> int:
    import torch

    from .optimize import QuantizationTooLossy, quantize_int8

    model = _model_from(args)
    if args.dataset:
        from torch.utils.data import Subset

        from .data.datasets import load_datasets
        from .data.transforms import transforms_for

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
        raise ValueError("pass --calibration IMAGES_OR_FOLDERS (images like the ones the model will see) or --dataset")
    output = args.output or f"{model.name}.int8.onnx"
    try:
        report = quantize_int8(
            model, output, calibration=calibration.split(args.batch_size), check=check, min_sqnr_db=args.min_sqnr
        )
    except QuantizationTooLossy as e:
        print(f"inception-zoo: {e}", file=sys.stderr)
        return 1
    on = "the calibration images" if check is None else f"{report.check_images} held-out images"
    print(f"{report.path}: int8 (ONNX Runtime QDQ), calibrated on {report.calibration_images} images")
    print(f"  against fp32 on {on}: SQNR {report.sqnr_db:.1f} dB, top-1 agreement {report.top1_agreement:.1%}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .serve import Limits, create_app

    model = _model_from(args, onnx=True)
    limits = Limits(
        max_bytes=args.max_bytes, max_pixels=args.max_pixels, max_batch_size=args.max_batch_size,
        max_wait_ms=args.max_wait_ms,
    )  # fmt: skip
    print(f"serving {model.name} on http://{args.host}:{args.port} (web page at /, API docs at /docs)")
    app = create_app(model, limits, optimize=not args.no_optimize)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inception-zoo", description="The whole Inception family.")
    parser.add_argument("--version", action="version", version=f"inception-zoo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="the registered networks")
    p.add_argument("pattern", nargs="?", help="a glob such as 'inception_v*'")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--markdown", action="store_true", help="a Markdown table")
    p.set_defaults(run=cmd_list)

    p = sub.add_parser("info", help="one network: paper, preprocessing, params, GMACs, stage shapes")
    p.add_argument("name")
    p.add_argument("--image-size", type=int, help="input size for the shapes (default: the network's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_info)

    p = sub.add_parser("weights", help="the published weights each network loads, with their accuracy")
    p.add_argument("pattern", nargs="?", help="a glob such as 'inception_v*'")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--markdown", action="store_true", help="a Markdown table")
    p.set_defaults(run=cmd_weights)

    p = sub.add_parser("predict", help="top-k classes of images or folders of images")
    p.add_argument("images", nargs="+", help="image files or folders")
    _add_model_options(p)
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("convert", help="any supported checkpoint (file or weight tag) -> our safetensors format")
    p.add_argument("source", help="a checkpoint file, or a weight tag with --model")
    p.add_argument("destination", help="the .safetensors file to write")
    p.add_argument("--model", help="the network (needed when the file's source fits several)")
    p.set_defaults(run=cmd_convert)

    from .serve import Limits

    p = sub.add_parser("serve", help="an HTTP service: POST /predict, a web page at /, docs at /docs")
    _add_model_options(p)
    p.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to accept other machines")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-bytes", type=int, default=Limits.max_bytes, help="largest upload")
    p.add_argument("--max-pixels", type=int, default=Limits.max_pixels, help="largest image, width x height")
    p.add_argument("--max-batch-size", type=int, default=Limits.max_batch_size, help="images per model call")
    p.add_argument("--max-wait-ms", type=float, default=Limits.max_wait_ms, help="batching delay")
    p.add_argument("--no-optimize", action="store_true", help="serve the model as built (no inference rewrites)")
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("export", help="ONNX or torch.export, verified against the eager model")
    _add_model_options(p)
    p.add_argument("--format", choices=["onnx", "torch-export"], default="onnx")
    p.add_argument("--output", help="the file to write (default: <model>.onnx or <model>.pt2)")
    p.add_argument("--static-size", action="store_true", help="fix height and width (the batch stays dynamic)")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("quantize", help="int8 ONNX (ONNX Runtime), calibrated on images, checked against fp32")
    _add_model_options(p)
    images = p.add_mutually_exclusive_group()
    images.add_argument("--calibration", nargs="+", help="image files or folders like the ones the model will see")
    images.add_argument("--dataset", choices=["cifar10", "cifar100", "digits"], help="calibrate on train, check on val")
    p.add_argument("--check", nargs="+", help="held-out images to measure agreement on (default: the calibration)")
    p.add_argument("--max-images", type=int, default=256, help="at most this many images each (spread evenly)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--min-sqnr", type=float, default=20.0, help="refuse a model whose logits' SQNR (dB) is lower")
    p.add_argument("--output", help="the file to write (default: <model>.int8.onnx)")
    p.set_defaults(run=cmd_quantize)

    from .train import RECIPES

    p = sub.add_parser("train", help="train a network (under torchrun: on many processes with DDP)")
    p.add_argument("--model", help="a network from 'inception-zoo list'")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--data", help="a folder with train/<class>/<image> and val/<class>/<image>")
    data.add_argument("--dataset", choices=["cifar10", "cifar100", "digits"], help="a named data set")
    p.add_argument("--output", help="the run's folder (default: runs/<model>)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="per process (default 32)")
    p.add_argument("--lr", type=float, help="base learning rate (default: the recipe's)")
    p.add_argument("--recipe", choices=sorted(RECIPES), help="a paper's recipe (default: 'default')")
    p.add_argument("--img-size", type=int, help="training and validation size (default: the network's)")
    p.add_argument("--augment", choices=["inception", "cifar", "none"], help="default: by data set")
    p.add_argument("--workers", type=int, help="data loading processes (default 0)")
    p.add_argument("--seed", type=int)
    p.add_argument("--weights", help="start from these weights (a tag or a file)")
    p.add_argument("--aux-logits", action=argparse.BooleanOptionalAction, help="train the side classifiers")
    p.add_argument("--aux-weight", type=float, help="side-classifier loss weight (default: the recipe's)")
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--ema-decay", type=float, help="average the weights (0: off; default: the recipe's)")
    p.add_argument("--amp", nargs="?", const="bf16", choices=["bf16", "fp16"], help="mixed precision")
    p.add_argument("--freeze-bn", action="store_true", default=None, help="keep BatchNorm as loaded (fine-tuning)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, help="memory format (default: on)")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument("--device", help="e.g. cpu or cuda:0 (default: this process's GPU, else the CPU)")
    p.add_argument("--resume", help="a last.pt to continue from (the run's options come from it)")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("recipes", help="the training recipes, with their sources")
    p.add_argument("--json", action="store_true", help="machine-readable output, with the notes")
    p.add_argument("--markdown", action="store_true", help="a Markdown table")
    p.set_defaults(run=cmd_recipes)

    p = sub.add_parser("eval", help="top-1/top-5, loss, per-class accuracy and a confusion matrix")
    p.add_argument(
        "--weights", required=True, help="one of our .safetensors or .onnx files (a run's model.safetensors)"
    )
    data = p.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help="a folder of class folders (or one with val/ inside)")
    data.add_argument("--dataset", choices=["cifar10", "cifar100", "digits"], help="a named data set's val split")
    p.add_argument("--crops", type=int, default=1, choices=[1, 10, 12, 144], help="the papers' multi-crop protocols")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--confusion", help="where to write the confusion-matrix PNG (default: beside the weights)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if os.environ.get("INCEPTION_ZOO_KEEP_FREED_MEMORY", "1") != "0":
        from .optimize.memory import keep_freed_memory

        keep_freed_memory()  # large activations reuse their pages instead of faulting in fresh ones
    try:
        return args.run(args)
    except (ValueError, OSError) as e:
        print(f"inception-zoo: error: {e}", file=sys.stderr)
        return 2
