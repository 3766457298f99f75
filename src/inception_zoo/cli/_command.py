"""What every command module shares: the ``Command`` record, model options, tables, options made
from a config dataclass. Plain argparse and the standard library: nothing here loads torch."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Command",
    "add_config_options",
    "add_model_options",
    "config_from",
    "format_table",
    "model_from",
    "port_number",
    "positive_int",
]


@dataclass(frozen=True)
class Command:
    """One command: its name and one-line help, a function that adds its arguments, and its handler
    (which returns the exit code, and imports the library it needs when it runs)."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    # Keep freed memory for reuse (optimize/memory.py): right for repeated same-sized calls; a stream
    # of millions of images fragments a heap that is never trimmed, so the batch commands do without.
    keeps_freed_memory: bool = True


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def port_number(text: str) -> int:
    """An argparse type: a TCP port (0 picks a free one)."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value


def format_table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [header, ["-" * w for w in widths], *rows])


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="a network; with no --weights, its default published weights")
    parser.add_argument(
        "--weights", help="a weight tag, checkpoint file or hf-hub:ORG/NAME repository (alone: one of our "
        ".safetensors files or repositories, or for predict, eval and serve an .onnx file from export or quantize)",
    )  # fmt: skip


def model_from(args: argparse.Namespace, *, onnx: bool = False):
    """``--model NAME [--weights W]`` (default: the network's published weights) or ``--weights FILE`` of
    ours (with ``onnx``, also an exported or int8 ``.onnx`` file, run by ONNX Runtime)."""
    from ..errors import ArgumentError
    from ..pretrained import open_model

    if args.weights and args.weights.endswith(".onnx") and not onnx and not args.model:
        raise ArgumentError(f"{args.command} needs the network's weights (.safetensors), not an ONNX file")
    return open_model(args.model, args.weights, onnx=onnx)


def add_config_options(parser: argparse.ArgumentParser, config: type) -> None:
    """One option per field of the dataclass ``config`` (``--batch-size`` for ``batch_size``), typed by
    its annotation, with the field's ``help`` and ``choices``; every option defaults to None (not given)."""
    hints = typing.get_type_hints(config)
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for field in dataclasses.fields(config):
        meta, default = field.metadata, field.default
        kind = next(t for t in typing.get_args(hints[field.name]) or (hints[field.name],) if t is not type(None))
        shown = "" if default is None or default is False else f" (default: {'on' if default is True else default})"
        kwargs: dict = dict(dest=field.name, default=None, help=meta["help"] + shown)
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = kind
            if "choices" in meta:
                kwargs["choices"] = meta["choices"]
            if "const" in meta:
                kwargs |= dict(nargs="?", const=meta["const"])
        target = parser
        if "group" in meta:
            if meta["group"] not in groups:
                groups[meta["group"]] = parser.add_mutually_exclusive_group()
            target = groups[meta["group"]]
        target.add_argument("--" + field.name.replace("_", "-"), **kwargs)


def config_from(args: argparse.Namespace, config: type):
    """``config`` built from the options ``add_config_options`` added, with only the ones given."""
    given = {field.name: getattr(args, field.name) for field in dataclasses.fields(config)}
    return config(**{name: value for name, value in given.items() if value is not None})
