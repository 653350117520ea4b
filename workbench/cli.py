"""``trt-workbench``: the window by default, and headless commands over the same core.

``trt-workbench [MODEL]`` opens the window; ``trt-workbench analyze|fix|build|compare …`` replay
what the window does. Exit codes: 0 success / nothing wrong, 1 problems or mismatch found, 2 error.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from typing import Callable

from workbench import __version__
from workbench.core.backend import BACKEND_CHOICES
from workbench.core.errors import WorkbenchError

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2

# name → (help, add_arguments(parser), run(args) -> exit code); each command registers itself below.
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}


def command(name: str, help_text: str, add_arguments: Callable):
    def register(run: Callable):
        COMMANDS[name] = (help_text, add_arguments, run)
        return run
    return register


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto",
                        help="TensorRT flavour: full tensorrt when importable, else tensorrt-rtx (default: auto)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def _analyze_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="ONNX model file")


@command("analyze", "summarise a model and check what TensorRT supports", _analyze_arguments)
def run_analyze(args) -> int:
    from workbench.core.analysis import analyze_support
    from workbench.core.backend import load_backend
    from workbench.core.model import load_model

    backend = load_backend(args.backend)
    model = load_model(args.model)
    report = analyze_support(model, backend)
    summary = model.summary()
    if args.json:
        print_json({"summary": summary.to_dict(), **report.to_dict()})
    else:
        _print_analysis(summary, report)
    return EXIT_PROBLEMS if report.blocking_problems else EXIT_OK


def _print_analysis(summary, report) -> None:
    backend = report.backend
    print(f"{summary.path}")
    print(f"  IR {summary.ir_version}, opsets {', '.join(f'{d} {v}' for d, v in summary.opsets.items())}, "
          f"producer {summary.producer or '-'}")
    print(f"  {summary.node_count} nodes ({summary.subgraph_node_count} nested), "
          f"{summary.parameter_count:,} parameters ({summary.parameter_bytes / 1e6:.1f} MB)")
    for label, tensors in (("input", summary.inputs), ("output", summary.outputs)):
        for t in tensors:
            print(f"  {label:6} {t.name}: {t.dtype} {t.shape_text()}{'  (dynamic)' if t.is_dynamic else ''}")
    print(f"  ops: {', '.join(f'{op}×{n}' for op, n in summary.op_histogram.items())}")
    print(f"\nBackend: {backend.name} {backend.version} — {backend.reason}")
    unsupported = report.unsupported_nodes
    print(f"TensorRT parser: {'all nodes supported' if report.fully_supported else f'{len(unsupported)} of {len(report.nodes)} nodes unsupported'}")
    if not report.problems:
        print("No problems found.")
    for p in report.problems:
        where = f" [{p.op} {p.node}{' in ' + p.parent if p.parent else ''}]" if p.node else ""
        print(f"  {p.severity.upper():7} {p.stage}/{p.kind}{where}: {p.message}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trt-workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"TensorRT Workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, _run) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text)
        add_arguments(command_parser)
        _common(command_parser)
    return parser


def _run_gui(argv: list[str]) -> int:
    from workbench.ui.app import run_app

    return run_app(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        return _run_gui(argv)
    args = build_parser().parse_args(argv)
    _help, _add, run = COMMANDS[args.command]
    try:
        return run(args)
    except WorkbenchError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        if args.debug:
            if exc.detail:
                print(exc.detail, file=sys.stderr)
            traceback.print_exc()
        return EXIT_ERROR
    except Exception as exc:  # an unexpected failure still gets a one-line message, not a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hint: run again with --debug for the traceback, and report it.", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
