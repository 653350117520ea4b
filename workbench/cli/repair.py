"""``trt-workbench repair MODEL -o OUT --recipe-out R``: search fixes and a profile that make it build."""

from __future__ import annotations

import argparse

from workbench.cli.options import add_backend_option, add_model_argument
from workbench.cli.output import EXIT_OK, EXIT_PROBLEMS, Outcome, progress_printer

NAME = "repair"
HELP = "search for fixes and/or a profile that make the model build, and write them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser, "ONNX model file (never modified)")
    parser.add_argument("--input-value", action="append", default=[], metavar="NAME=VALUE",
                        help="value to freeze a switch input at (e.g. downsample_ratio=0.25; several values of one "
                             "input separated by ';'); tried before the values the model itself suggests")
    parser.add_argument("-o", "--output", required=True, help="where to write the repaired model (atomically)")
    parser.add_argument("--recipe-out", required=True, help="where to write the repair as a recipe (fixes, profile)")
    parser.add_argument("--accept-changes", action="store_true",
                        help="write the repair even if a step freezes an input, fixes a shape, cuts outputs or "
                             "changes outputs beyond tolerance")
    parser.add_argument("--budget", type=float, metavar="SECONDS", help="time budget for the search (default 120)")
    add_backend_option(parser)


def run(args) -> Outcome:
    from workbench.core.runtime import load_backend
    from workbench.core.model.loading import load_model, save_model
    from workbench.core.recipe import save_recipe
    from workbench.core.repair import DEFAULT_BUDGET_SECONDS, NOTHING_TO_REPAIR, parse_input_values, repair_model

    model = load_model(args.model)
    result = repair_model(model, input_values=parse_input_values(args.input_value),
                          backend=load_backend(args.backend), budget_seconds=args.budget or DEFAULT_BUDGET_SECONDS,
                          progress=progress_printer(args))
    refused = result.found and result.needs_confirmation and not args.accept_changes
    written = recipe_written = None
    if result.found and not refused:
        written = save_model(result.model.proto, args.output, weights_dir=result.model.weights_dir, protect=model.path)
        recipe_written = save_recipe(result.recipe(), args.recipe_out)
    data = {**result.to_dict(), "output": str(written or ""), "recipe_out": str(recipe_written or ""),
            "written": written is not None}
    text = result.describe()
    if refused:
        text += ("\nNothing written: the steps above change what the model means; rerun with --accept-changes "
                 "to write them.")
    elif written:
        text += f"\nWrote {written} and recipe {recipe_written}"
    return Outcome(EXIT_OK if written or result.status == NOTHING_TO_REPAIR else EXIT_PROBLEMS, data, text)
