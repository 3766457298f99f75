"""The ``inception-zoo`` command: a thin shell over the library.

Each module here holds a few commands, each command's arguments next to its handler
(``_command.Command``). The handlers import the library when they run, so that ``--help``,
every command's ``--help``, ``list``, ``weights`` and ``recipes`` answer without loading torch.
An error the library raises on purpose (``inception_zoo.errors``), or one from the operating
system, is printed as one line, naming the flag it is about, and the exit code says which.
"""

from __future__ import annotations

import argparse
import os
import sys

from .._version import __version__
from ..errors import ArgumentError, InceptionZooError
from ..optimize.memory import keep_freed_memory
from . import catalog, convert, diagram, export, fid, predict, serve, train
from ._command import Command

__all__ = ["build_parser", "main"]

COMMANDS: tuple[Command, ...] = (
    *catalog.COMMANDS,
    *diagram.COMMANDS,
    *predict.COMMANDS,
    *convert.COMMANDS,
    *serve.COMMANDS,
    *export.COMMANDS,
    *fid.COMMANDS,
    *train.COMMANDS,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inception-zoo", description="The whole Inception family.")
    parser.add_argument("--version", action="version", version=f"inception-zoo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        command.arguments(command_parser)
        command_parser.set_defaults(
            run=command.run, command_parser=command_parser, keeps_freed_memory=command.keeps_freed_memory
        )
    return parser


def _flag(parser: argparse.ArgumentParser, dest: str) -> str | None:
    """The flag for an argument: its action's, or a flag spelt like it (several flags may share a dest)."""
    spelt = f"--{dest.replace('_', '-')}"
    for action in parser._actions:
        if spelt in action.option_strings:
            return spelt
    return next((a.option_strings[0] for a in parser._actions if a.dest == dest and a.option_strings), None)


def _one_line(error: InceptionZooError, parser: argparse.ArgumentParser) -> str:
    """The error's message in the command line's words: its own, or the Python name of the argument it is
    about replaced by the flag."""
    if error.cli:
        return error.cli
    message = str(error)
    if isinstance(error, ArgumentError) and error.option and (flag := _flag(parser, error.option)):
        message = message.replace(error.option, flag, 1)
    return message


def main(argv: list[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()  # here, not at exit, where a closed pipe would print a traceback
        return code
    except BrokenPipeError:  # the reader went away ('inception-zoo list | head -1'): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush fails silently
        return 128 + 13  # what a program killed by SIGPIPE returns


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.keeps_freed_memory and os.environ.get("INCEPTION_ZOO_KEEP_FREED_MEMORY", "1") != "0":
        keep_freed_memory()  # large activations reuse their pages instead of faulting in fresh ones
    try:
        return args.run(args)
    except BrokenPipeError:
        raise
    except InceptionZooError as e:
        print(f"inception-zoo: error: {_one_line(e, args.command_parser)}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        print(f"inception-zoo: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # the trainer's says where it saved the run
        print(f"inception-zoo: {e or 'interrupted'}", file=sys.stderr)
        return 130
