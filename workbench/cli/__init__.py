"""``trt-workbench``: the window by default, and headless commands over the same core.

``trt-workbench [MODEL]`` opens the window; ``trt-workbench analyze|fix|build|compare|repair …`` replay
what the window does. Exit codes: 0 success / nothing wrong, 1 problems or mismatch found, 2 error.
Each command is a module here (``NAME``, ``HELP``, ``add_arguments(parser)``, ``run(args) -> Outcome``);
core modules are imported inside ``run``, so a command pays only for what it uses.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from workbench import __version__
from workbench.cli import analyze, build, compare, convert, fix, quantize, reduce, repair, split
from workbench.cli.options import add_output_options
from workbench.cli.output import (EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, Outcome, error_reply, print_library_log,
                                  run_command, write_json)

__all__ = ["COMMANDS", "EXIT_ERROR", "EXIT_OK", "EXIT_PROBLEMS", "Outcome", "build_parser", "main"]

COMMANDS = {module.NAME: module for module in (analyze, fix, build, compare, convert, quantize, repair, split,
                                                   reduce)}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; given ``command``, only that command's options are registered: a command's
    ``add_arguments`` may import what its help texts and choices need (``convert`` reads its tolerances from
    the precision core, hence onnx), and one command should not pay for every other's imports."""
    parser = argparse.ArgumentParser(prog="trt-workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"TensorRT Workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        command_parser = sub.add_parser(name, help=module.HELP)
        if command in (None, name):
            module.add_arguments(command_parser)
            add_output_options(command_parser)
    return parser


def _run_gui(argv: list[str]) -> int:
    from workbench.ui.app import run_app

    return run_app(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        return _run_gui(argv)
    try:
        args = build_parser(argv[0]).parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and the error on stderr
        if "--json" in argv and exc.code:
            write_json({"error": {"message": "Invalid command line (see the usage on stderr).", "hint":
                                  f"trt-workbench {argv[0]} --help lists the options.", "detail": ""}, "log": []})
        raise
    from workbench.core.runtime import Runtime
    from workbench.core.third_party_logs import capture_output

    # Third-party libraries print on their own (onnx-graphsurgeon on stdout, onnxruntime's native
    # logger on fd 2): catch it all, so --json's stdout holds one object and the lines become our log.
    # The command's runtime stops every child process it started before the command returns, and starts no spare
    # ones (the command ends after its work).
    with capture_output(stdout_too=args.json) as captured, Runtime(spare_children=False):
        outcome, error = run_command(COMMANDS[args.command].run, args)
    log = [message for message in captured.messages if message.source != "stderr"]
    for message in captured.messages:
        if message.source == "stderr":  # not a library we know: pass it on unchanged
            print(message.text, file=sys.stderr)
    if args.json:
        reply = dict(outcome.data) if error is None else error_reply(error)
        reply["log"] = [asdict(message) for message in log]
        write_json(reply)
    else:
        if error is None and outcome.text:
            print(outcome.text)
        print_library_log(log, args.debug)
    return outcome.code
