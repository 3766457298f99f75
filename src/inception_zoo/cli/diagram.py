"""``diagram``: the figure of a network, or of one of its modules, drawn from the code."""

from __future__ import annotations

import argparse

from ._command import Command


def diagram_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="a network from 'inception-zoo list'")
    parser.add_argument(
        "--block", metavar="LAYER",
        help="draw this layer's module instead: its branches, each layer's kernel, stride, padding and channels, "
        "the join and the shapes (a layer of the network figure, such as Mixed_6b)",
    )  # fmt: skip
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="the file to write: .svg, .png or .pdf (default: NAME.svg or NAME.LAYER.svg)",
    )


def run_diagram(args: argparse.Namespace) -> int:
    from ..diagrams.render import diagram

    output = args.output or (f"{args.name}.svg" if args.block is None else f"{args.name}.{args.block}.svg")
    diagram(args.name, block=args.block, output=output)
    what = f"the module of {args.name}'s {args.block}" if args.block else f"the network {args.name}"
    print(f"{output}: {what}, at its default input size")
    return 0


COMMANDS = (
    Command("diagram", "the figure of a network or of one of its modules, drawn from the code", diagram_arguments,
            run_diagram),
)  # fmt: skip
