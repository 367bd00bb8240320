"""The `attire` command line: one module per command, each with `register(subparsers)`.

Every command's parser sets `handler`, a function taking the parsed arguments and
returning an exit status. Errors a user can cause (AttireError, OSError) become one
line on stderr and a non-zero exit status; `--debug` shows the traceback instead.
"""

import argparse
import importlib
import sys

from attire import __version__
from attire.errors import AttireError

# Command modules in the order `attire --help` lists them.
COMMANDS = ["data", "show", "models", "train", "evaluate", "report", "predict", "serve", "export"]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def common_options() -> argparse.ArgumentParser:
    """Options every command accepts, so `--debug` works before or after the command."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attire",
        description="Recognise clothing in images: data, training, evaluation, prediction, serving and export.",
        parents=[common_options()],
    )
    parser.add_argument("--version", action="version", version=f"attire {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"attire.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"attire.cli.{name}":
                raise
            continue  # command not built yet
        module.register(subparsers, common_options())
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_ERROR
    debug = getattr(args, "debug", False)
    try:
        return args.handler(args) or 0
    except BrokenPipeError:  # `attire data --json | head` closed our stdout: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        if debug:
            raise
        print("attire: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (AttireError, OSError) as e:
        if debug:
            raise
        print(f"attire: error: {one_line(e)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # a bug of ours: still one line, with the way to learn more
        if debug:
            raise
        print(f"attire: internal error: {type(e).__name__}: {one_line(e)} "
              "(rerun with --debug for the traceback, and please report it)", file=sys.stderr)
        return EXIT_ERROR


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
