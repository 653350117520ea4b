"""``trt-workbench split MODEL -o DIR``: a TensorRT engine for what TensorRT builds, onnxruntime for the rest.

Exit codes: 0 when the TensorRT part builds and the chained outputs match the original under onnxruntime,
1 when they do not or nothing can go to TensorRT, 2 on error. With ``--json`` the object has ``parts``
(each with ``runtime``, ``file``, ``nodes``, ``inputs``, ``outputs``), ``boundaries``, ``build`` and
``comparison``.
"""

from __future__ import annotations

import argparse
import sys


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    from workbench.core.split.partition import DEFAULT_MAX_PARTS

    parser.add_argument("model", help="ONNX model file (never modified)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="folder for trt_part.onnx, rest.onnx, the engine, split.toml and run_split.py "
                             "(created if missing)")
    for which in ("min", "opt", "max"):
        parser.add_argument(f"--{which}-shapes", action="append", default=[], metavar="NAME:AxBxC[,…]",
                            help=f"{which} shapes of the model's inputs for the TensorRT part "
                                 "(default: realistic shapes from the shape service, with their reasons)")
    parser.add_argument("--boundary", action="append", default=[], metavar="TENSOR",
                        help="end the TensorRT part at these tensors (repeatable; default: the largest region "
                             "TensorRT builds, narrowed to few tensors)")
    parser.add_argument("--max-parts", type=int, default=DEFAULT_MAX_PARTS, metavar="N",
                        help=f"at most N parts when TensorRT can take a region after an unsupported one "
                             f"(default {DEFAULT_MAX_PARTS})")
    parser.add_argument("--no-engine", action="store_true",
                        help="trial-build the TensorRT parts but write no engine file")


def run_split(args, cli=None) -> int:
    """``cli``: the module holding the shared command-line pieces (print_json, print_problem, _cli_profiles,
    exit codes) — the one that runs the command, which under ``python -m workbench.cli`` is ``__main__``."""
    if cli is None:
        import workbench.cli as cli
    from workbench.core.backend import load_backend
    from workbench.core.model.loading import load_model
    from workbench.core.split.deploy import prepare_folder, write_split_folder
    from workbench.core.split.split import split_model

    backend = load_backend(args.backend)
    model = load_model(args.model)
    folder = prepare_folder(args.output, model.path)
    show = (lambda phase, _fraction=None: print(f"  {phase}…", file=sys.stderr)) \
        if not args.json and sys.stderr.isatty() else None
    result = split_model(model, output_dir=None if args.no_engine else folder,
                         profiles=cli._cli_profiles(args, model, backend) or None, boundary=args.boundary or None,
                         max_parts=args.max_parts, backend=backend, **({"progress": show} if show else {}))
    written = write_split_folder(result, folder, backend.name) if result.parts else []
    if args.json:
        cli.print_json({**result.to_dict(), "written": [str(p) for p in written]})
    else:
        _print_split(result, written, cli.print_problem)
    return cli.EXIT_OK if result.succeeded else cli.EXIT_PROBLEMS


def _print_split(result, written, print_problem) -> None:
    print(result.message)
    builds = {b.part: b for b in result.builds}
    for part in result.parts:
        print(f"  part {part.index + 1}: {part.file:18} {part.runtime:12} {len(part.nodes):5} nodes  "
              f"in: {', '.join(part.inputs)}  out: {', '.join(part.outputs)}")
        for node, why in list(part.reasons.items())[:5]:
            print(f"          {node}: {why}")
        if len(part.reasons) > 5:
            print(f"          … and {len(part.reasons) - 5} more node(s) after them")
        build = builds.get(part.index)
        if build is not None:
            print(f"          build: {'ok' if build.succeeded else 'FAILED'}"
                  + (f", engine {build.engine_path}" if build.engine_path else "")
                  + (f"; shapes: {'; '.join(build.profile_reasons)}" if build.profile_reasons else ""))
            for problem in (build.result.problems if build.result and not build.succeeded else []):
                print_problem(problem)
    for b in result.boundaries:
        print(f"  boundary {b.name}: {b.dtype} {b.shape} (ran as {b.observed_shape}), part {b.producer + 1} → "
              f"{', '.join(str(c + 1) for c in b.consumers)}")
    if result.comparison:
        print(f"  chained run: {result.ran_with}")
        for c in result.comparison:
            print(f"  output {c.name}: {c.verdict} (max|err| {c.max_abs:.3g}) — {c.reason}")
    for path in written:
        print(f"  wrote {path}")
