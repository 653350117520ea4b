"""``trt-workbench split MODEL -o DIR``: a TensorRT engine for what TensorRT builds, onnxruntime for the rest.

Exit codes: 0 when the TensorRT part builds and the chained outputs match the original under onnxruntime,
1 when they do not or nothing can go to TensorRT, 2 on error. With ``--json`` the object has ``parts``
(each with ``runtime``, ``file``, ``nodes``, ``inputs``, ``outputs``), ``boundaries``, ``build`` and
``comparison``.
"""

from __future__ import annotations

import argparse

from workbench.cli.options import (add_backend_option, add_model_argument, add_profile_shape_options,
                                   profiles_from_options)
from workbench.cli.output import EXIT_OK, EXIT_PROBLEMS, Outcome, progress_printer

NAME = "split"
HELP = "run what TensorRT builds as an engine and the rest under onnxruntime"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser, "ONNX model file (never modified)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="folder for trt_part.onnx, rest.onnx, the engine, split.toml and run_split.py "
                             "(created if missing)")
    parser.add_argument("--boundary", action="append", default=[], metavar="TENSOR",
                        help="end the TensorRT part at these tensors (repeatable; default: the largest region "
                             "TensorRT builds, narrowed to few tensors)")
    parser.add_argument("--max-parts", type=int, metavar="N",
                        help="at most N parts when TensorRT can take a region after an unsupported one (default 3)")
    parser.add_argument("--no-engine", action="store_true",
                        help="trial-build the TensorRT parts but write no engine file")
    add_profile_shape_options(parser)  # default: realistic shapes from the shape service, with their reasons
    add_backend_option(parser)


def run(args) -> Outcome:
    from workbench.core.runtime import load_backend
    from workbench.core.model.loading import load_model
    from workbench.core.split.deploy import prepare_folder, write_split_folder
    from workbench.core.split.split import split_model

    backend = load_backend(args.backend)
    model = load_model(args.model)
    folder = prepare_folder(args.output, model.path)
    result = split_model(model, output_dir=None if args.no_engine else folder,
                         profiles=profiles_from_options(args, model, backend) or None,
                         boundary=args.boundary or None, backend=backend, progress=progress_printer(args),
                         **({"max_parts": args.max_parts} if args.max_parts is not None else {}))
    written = write_split_folder(result, folder, backend.name) if result.parts else []
    return Outcome(EXIT_OK if result.succeeded else EXIT_PROBLEMS,
                   {**result.to_dict(), "written": [str(p) for p in written]}, _describe(result, written))


def _describe(result, written) -> str:
    lines = [result.message]
    builds = {b.part: b for b in result.builds}
    for part in result.parts:
        lines.append(f"  part {part.index + 1}: {part.file:18} {part.runtime:12} {len(part.nodes):5} nodes  "
                     f"in: {', '.join(part.inputs)}  out: {', '.join(part.outputs)}")
        for node, why in list(part.reasons.items())[:5]:
            lines.append(f"          {node}: {why}")
        if len(part.reasons) > 5:
            lines.append(f"          … and {len(part.reasons) - 5} more node(s) after them")
        build = builds.get(part.index)
        if build is not None:
            lines.append(f"          build: {'ok' if build.succeeded else 'FAILED'}"
                         + (f", engine {build.engine_path}" if build.engine_path else "")
                         + (f"; shapes: {'; '.join(build.profile_reasons)}" if build.profile_reasons else ""))
            for problem in (build.result.problems if build.result and not build.succeeded else []):
                lines.append(problem.describe())
    for b in result.boundaries:
        lines.append(f"  boundary {b.name}: {b.dtype} {b.shape} (ran as {b.observed_shape}), "
                     f"part {b.producer + 1} → {', '.join(str(c + 1) for c in b.consumers)}")
    if result.comparison:
        lines.append(f"  chained run: {result.ran_with}")
        for c in result.comparison:
            lines.append(f"  output {c.name}: {c.verdict} (max|err| {c.max_abs:.3g}) — {c.reason}")
    for path in written:
        lines.append(f"  wrote {path}")
    return "\n".join(lines)
