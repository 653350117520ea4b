"""``trt-workbench compare MODEL --engine E | --against MODEL2``: outputs against onnxruntime's."""

from __future__ import annotations

import argparse

from workbench.cli.options import (add_backend_option, add_input_data_options, add_model_argument,
                                   input_data_from_options)
from workbench.cli.output import EXIT_OK, EXIT_PROBLEMS, Outcome

NAME = "compare"
HELP = "check a TensorRT engine or a second model against onnxruntime"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser, "ONNX model: the onnxruntime reference")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--engine", help="TensorRT engine file to check against the model")
    target.add_argument("--against", metavar="MODEL2", help="second ONNX model (e.g. the fixed or float16 one)")
    add_input_data_options(parser, "[inputs] and [compare] sections (and profiles, for --profile)")
    parser.add_argument("--atol", type=float, help="absolute tolerance (default 1e-5, as Polygraphy)")
    parser.add_argument("--rtol", type=float, help="relative tolerance (default 1e-5, as Polygraphy)")
    parser.add_argument("--timing", type=int, metavar="N", help="also time N runs of each side (after warm-up)")
    parser.add_argument("--bisect", action="store_true", help="find the first node whose output diverges")
    parser.add_argument("--report", metavar="PATH", help="write PATH.json and a self-contained PATH.html")
    add_backend_option(parser)


def run(args) -> Outcome:
    from dataclasses import replace

    from workbench.core.runtime import load_backend
    from workbench.core.compare.comparison import CompareSettings, run_comparison
    from workbench.core.compare.report import check_destination, write_report
    from workbench.core.model.loading import load_model

    if args.report:
        check_destination(args.report)
    recipe, spec = input_data_from_options(args)
    settings = CompareSettings.from_dict(recipe.compare)
    tolerances = replace(settings.tolerances, **{k: getattr(args, k) for k in ("atol", "rtol")
                                                 if getattr(args, k) is not None})
    settings = replace(settings, against="engine" if args.engine else "model", engine_path=args.engine or "",
                       against_model=args.against or "", tolerances=tolerances,
                       timing_runs=settings.timing_runs if args.timing is None else args.timing,
                       bisect=args.bisect or settings.bisect)
    model = load_model(args.model)
    backend = load_backend(args.backend) if args.engine else None
    result = run_comparison(model, settings, spec, backend, profiles=recipe.profiles)
    if args.report:
        written = write_report(result, args.report)
        result.notes.append(f"Report written: {', '.join(str(p) for p in written)}")
    return Outcome(EXIT_OK if result.passed else EXIT_PROBLEMS, result.to_dict(), result.describe())
