"""``trt-workbench analyze MODEL``: the model's summary and what TensorRT's parser takes."""

from __future__ import annotations

import argparse

from workbench.cli.options import add_backend_option, add_memory_check_option, add_model_argument
from workbench.cli.output import EXIT_OK, EXIT_PROBLEMS, Outcome

NAME = "analyze"
HELP = "summarise a model and check what TensorRT supports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser, "ONNX model file")
    parser.add_argument("--build", action="store_true",
                        help="also run a trial build (no engine written; dynamic inputs get suggested shapes): "
                             "builder refusals join the problems with stage 'build'")
    add_memory_check_option(parser)
    add_backend_option(parser)


def run(args) -> Outcome:
    from workbench.core.analysis.support import analyze_support
    from workbench.core.runtime import load_backend
    from workbench.core.model.loading import load_model

    backend = load_backend(args.backend)
    model = load_model(args.model)
    shapes = None
    check_memory = not args.ignore_memory_check
    probe = args.build
    if probe and check_memory:
        from workbench.core.memory import estimate_build_memory

        probe = estimate_build_memory(model).fits  # a trial build that will be skipped needs no shapes
    if probe:  # probe realistic shapes under onnxruntime while TensorRT's parser analyses the model
        from workbench.core.shapes.suggest import prefetch_shapes

        shapes = prefetch_shapes(model)
    try:
        report = analyze_support(model, backend)
    finally:
        if shapes is not None:
            # Also when the analysis fails: exiting while onnxruntime's threads run native code aborts the
            # process ("terminate called without an active exception", exit 134) instead of reporting the error.
            shapes.join()
    summary = model.summary()
    trial = None
    if args.build:
        from workbench.core.build.trial import trial_build

        trial = trial_build(model, backend=backend, check_memory=check_memory)
        report.problems.extend(trial.triage_problems())
    data = {"summary": summary.to_dict(), **report.to_dict(), **({"trial_build": trial.to_dict()} if trial else {})}
    text = "\n\n".join([summary.describe(), report.describe()]) + (f"\n{trial.describe()}" if trial else "")
    return Outcome(EXIT_PROBLEMS if report.blocking_problems else EXIT_OK, data, text)
