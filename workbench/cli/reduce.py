"""``trt-workbench reduce MODEL -o DIR``: the smallest model that still fails the same way, and a bug report.

Exit codes: 0 reduced (the bundle's model fails the same way, checked again), 1 stopped early, not reducible
or flaky (the bundle is written with the smallest failing model found), 2 error (e.g. the model does not show
the problem). With ``--json`` the object has ``status``, ``signature``, ``nodes``, ``oracle_calls``, ``seconds``
and ``written``.
"""

from __future__ import annotations

import argparse

from workbench.cli.options import add_backend_option, add_model_argument, add_profile_shape_options
from workbench.cli.output import EXIT_OK, EXIT_PROBLEMS, Outcome, progress_printer

NAME = "reduce"
HELP = "reduce a failing model to the smallest one that fails the same way, and write a bug report"
DEFAULT_TIME_LIMIT_TEXT = "300"  # search.DEFAULT_TIME_LIMIT_SECONDS, without importing the core here


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser, "ONNX model file (never modified)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="folder for the report: reduced.onnx, repro.sh, environment.txt, error.log, README.md "
                             "(created if missing)")
    parser.add_argument("--problem", metavar="KIND[:NODE]",
                        help="the failure to reduce: a problem kind as analyze lists it (parser-error, "
                             "builder-error, …) or 'compare', optionally with its node (default: the parser's "
                             "first error, else the builder's, else the comparison with --against)")
    parser.add_argument("--against", metavar="MODEL2",
                        help="the model under test for an accuracy problem (a copy with the same nodes: perturbed, "
                             "converted weights); compared with MODEL under onnxruntime")
    parser.add_argument("--atol", type=float, help="absolute tolerance of the comparison (default 1e-5)")
    parser.add_argument("--rtol", type=float, help="relative tolerance of the comparison (default 1e-5)")
    parser.add_argument("--time-limit", type=float, metavar="S",
                        help=f"stop after S seconds with the smallest failing model so far "
                             f"(default {DEFAULT_TIME_LIMIT_TEXT})")
    add_profile_shape_options(parser)  # default: realistic shapes from the shape service, with their reasons
    add_backend_option(parser)


def run(args) -> Outcome:
    from workbench.cli.options import profiles_from_options
    from workbench.core.runtime import load_backend
    from workbench.core.compare.metrics import Tolerances
    from workbench.core.model.loading import load_model
    from workbench.core.reduce.bundle import prepare_bundle_folder, write_bundle
    from workbench.core.reduce.search import DEFAULT_TIME_LIMIT_SECONDS, ProblemSpec, ReduceStatus, reduce_model

    backend = load_backend(args.backend)
    model = load_model(args.model)
    folder = prepare_bundle_folder(args.output, model.path)
    tolerances = Tolerances(**{k: getattr(args, k) for k in ("atol", "rtol") if getattr(args, k) is not None})
    result = reduce_model(model, ProblemSpec.parse(args.problem) if args.problem else None,
                          against=load_model(args.against) if args.against else None, tolerances=tolerances,
                          profiles=profiles_from_options(args, model, backend) or None,
                          time_limit=args.time_limit if args.time_limit is not None else DEFAULT_TIME_LIMIT_SECONDS,
                          backend=backend, progress=progress_printer(args))
    written = write_bundle(result, folder, backend, protect=model.path)
    text = result.describe() + "\n" + "\n".join(f"  wrote {path}" for path in written)
    return Outcome(EXIT_OK if result.status == ReduceStatus.REDUCED else EXIT_PROBLEMS,
                   {**result.to_dict(), "written": [str(p) for p in written]}, text)
