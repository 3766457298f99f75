"""``convert``: any supported checkpoint (file or weight tag) -> our safetensors format."""

from __future__ import annotations

import argparse

from ..errors import ArgumentError
from ._command import Command


def convert_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a checkpoint file, or a weight tag with --model")
    parser.add_argument("destination", help="the .safetensors file to write")
    parser.add_argument("--model", help="the network (needed when the file's source fits several)")


def run_convert(args: argparse.Namespace) -> int:
    from ..convert import read_state_dict, recognise
    from ..formats import read_metadata
    from ..models._builder import create_model
    from ..weights import save_weights

    name = args.model or read_metadata(args.source).get("model")  # one of our files says
    if name is None:
        layout = recognise(read_state_dict(args.source))
        if layout is None or len(layout.models) != 1:
            options = ", ".join(layout.models) if layout else "any network"
            raise ArgumentError(f"cannot tell which network {args.source} is for: pass --model ({options})")
        name = layout.models[0]
    model = create_model(name, weights=args.source)
    path = save_weights(model, args.destination)
    print(f"{args.source} -> {path} ({name}, {model.provenance.get('source')}, {model.num_classes} classes)")
    return 0


COMMANDS = (
    Command(
        "convert",
        "any supported checkpoint (file or weight tag) -> our safetensors format",
        convert_arguments,
        run_convert,
    ),  # fmt: skip
)
