"""``convert``: any supported checkpoint (file, weight tag or Hub repository) -> our safetensors format,
or (``--to``) the keys of another library's model of the network."""

from __future__ import annotations

import argparse

from ..convert.layouts import READERS
from ..errors import ArgumentError
from ._command import Command


def convert_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a checkpoint file, an hf-hub:ORG/NAME repository, or a weight tag with --model")
    parser.add_argument("destination", help="the file to write: .safetensors (or .pth with --to)")
    parser.add_argument("--model", help="the network (needed when the file's source fits several)")
    parser.add_argument(
        "--to",
        choices=READERS,
        help="write the keys of this library's model of the network instead of ours (it loads them strictly)",
    )


def run_convert(args: argparse.Namespace) -> int:
    from ..hub import HF_HUB
    from ..models._builder import create_model
    from ..pretrained import from_pretrained
    from ..weights import export_call, save_weights

    if args.source.startswith(HF_HUB) and not args.model:  # a repository says, or names the network
        model = from_pretrained(args.source)
    else:
        model = create_model(args.model or _network_of(args.source), weights=args.source)
    name = model.name
    path = save_weights(model, args.destination, to=args.to)
    print(f"{args.source} -> {path} ({name}, {model.provenance.get('source')}, {model.num_classes} classes)")
    if args.to:
        print(f"{args.to}'s keys: build {export_call(model, args.to)}, then load_state_dict (strict)")
    return 0


def _network_of(path: str) -> str:
    from ..convert.checkpoint import read_state_dict
    from ..convert.layouts import recognise
    from ..formats import read_metadata

    name = read_metadata(path).get("model")  # one of our files says
    if name is None:
        layout = recognise(read_state_dict(path))
        if layout is None or len(layout.models) != 1:
            options = ", ".join(layout.models) if layout else "any network"
            raise ArgumentError(f"cannot tell which network {path} is for: pass --model ({options})")
        name = layout.models[0]
    return name


COMMANDS = (
    Command(
        "convert",
        "any supported checkpoint (file, weight tag or Hub repository) -> our format, or --to another library's",
        convert_arguments,
        run_convert,
    ),  # fmt: skip
)
