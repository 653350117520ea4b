"""``trt-workbench fix MODEL --apply NAME… | --recipe R -o OUT``: catalogue fixes, checked and written."""

from __future__ import annotations

import argparse

from workbench.cli.options import add_model_argument
from workbench.cli.output import EXIT_OK, EXIT_PROBLEMS, Outcome
from workbench.core.errors import WorkbenchError

NAME = "fix"
HELP = "apply catalogue fixes (or replay a recipe) and write the fixed model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser, "ONNX model file (never modified)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--recipe", help="TOML recipe whose [[fixes]] steps are replayed in order")
    source.add_argument("--apply", action="append", metavar="NAME[:key=value,…]",
                        help="a fix to apply (repeatable, applied in order), e.g. "
                             "set-input-shape:input=images,shape=1x3x224x224 or cut-outputs:tensors=boxes;scores")
    parser.add_argument("-o", "--output", required=True, help="where to write the fixed model (written atomically)")
    parser.add_argument("--recipe-out", help="also write the applied steps as a recipe")
    parser.add_argument("--no-parity", action="store_true", help="skip the onnxruntime parity check")
    parser.add_argument("--overwrite-original", action="store_true",
                        help="allow -o to be the input model itself (refused otherwise)")


def run(args) -> Outcome:
    from workbench.core.compare.parity import BEYOND, CANNOT_JUDGE, check_parity
    from workbench.core.fixes.apply import parse_spec, replay, steps_from_recipe
    from workbench.core.fixes.registry import FIXES
    from workbench.core.model.loading import load_model, save_model
    from workbench.core.recipe import Recipe, load_recipe, save_recipe

    model = load_model(args.model)
    recipe = load_recipe(args.recipe) if args.recipe else Recipe(source_model=str(model.path))
    steps = steps_from_recipe(recipe) if args.recipe else [parse_spec(spec) for spec in args.apply]
    if not steps:
        raise WorkbenchError("The recipe has no [[fixes]] steps.", f"Available fixes: {', '.join(FIXES)}.")
    results = replay(model, steps)
    fixed = results[-1].after
    parity = None
    if not args.no_parity:
        frozen = {name: value for result in results for name, value in result.frozen_inputs.items()}
        parity = check_parity(model, fixed, frozen_inputs=frozen)
    written = save_model(fixed.proto, args.output, weights_dir=fixed.weights_dir,
                         protect=None if args.overwrite_original else model.path)
    recipe.fixes = [step.to_dict() for step in steps]
    recipe_written = save_recipe(recipe, args.recipe_out) if args.recipe_out else None
    data = {"model": str(model.path), "output": str(written), "recipe": str(recipe_written or ""),
            "steps": [r.to_dict() for r in results], "parity": parity.to_dict() if parity else None}
    lines = []
    for index, result in enumerate(results, 1):
        lines.append(f"{index}. {result.step.spec()}")
        lines += [f"   {line}" for line in result.describe().splitlines()]
    if parity:
        lines.append(f"Parity vs the original (onnxruntime, seed {parity.seed}): {parity.text}")
    lines.append(f"Wrote {written}" + (f" and recipe {recipe_written}" if recipe_written else ""))
    return Outcome(EXIT_PROBLEMS if parity and parity.verdict in (BEYOND, CANNOT_JUDGE) else EXIT_OK, data,
                   "\n".join(lines))
