"""``trt-workbench build MODEL -o ENGINE``: an engine built in a child process, or what stopped it."""

from __future__ import annotations

import argparse
import sys

from workbench.cli.options import (add_backend_option, add_memory_check_option, add_model_argument,
                                   add_profile_shape_options, profiles_from_options)
from workbench.cli.output import EXIT_OK, EXIT_PROBLEMS, Outcome, progress_printer

NAME = "build"
HELP = "build a TensorRT engine (in a separate process) and report what failed"

PRECISION_FLAGS = ("fp16", "bf16", "int8", "fp8")  # --fp16 etc.; FP32 is the default
# Options that override the recipe's [build] settings (argparse dests, named as BuildSettings' fields).
SETTING_OPTIONS = ("precision", "precision_by_flag", "workspace_mb", "optimization_level", "timing_cache", "plugins",
                   "hardware_compatibility", "version_compatible", "compute_capabilities", "detailed_profiling")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser, "ONNX model file")
    parser.add_argument("-o", "--output", required=True, help="engine file to write")
    parser.add_argument("--recipe", help="recipe (TOML): its fixes are applied first; its profiles and build "
                                         "settings are used unless options below override them")
    add_profile_shape_options(parser)
    precision = parser.add_mutually_exclusive_group()
    for name in PRECISION_FLAGS:
        precision.add_argument(f"--{name}", dest="precision", action="store_const", const=name,
                               help=f"build in {name.upper()}" + (
                                   " (converts the model on strongly typed networks such as TensorRT-RTX)"
                                   if name == "fp16" else ""))
    parser.add_argument("--precision-by-flag", action="store_true", default=None,
                        help="full TensorRT: use the weakly typed builder flag instead of converting the model")
    parser.add_argument("--workspace", type=int, dest="workspace_mb", metavar="MIB", help="workspace memory limit")
    parser.add_argument("--opt-level", type=int, dest="optimization_level", metavar="0-5",
                        help="builder optimization level")
    parser.add_argument("--timing-cache", metavar="FILE", help="timing cache to load and save")
    parser.add_argument("--plugin", action="append", dest="plugins", metavar="LIB",
                        help="plugin library to load (runs its native code)")
    parser.add_argument("--hardware-compatibility", choices=("none", "ampere_plus", "same_compute_capability"))
    parser.add_argument("--version-compatible", action="store_true", default=None)
    parser.add_argument("--compute-capability", action="append", dest="compute_capabilities", metavar="SMxx",
                        help="TensorRT-RTX target (repeat for several; CURRENT = this machine's GPU)")
    parser.add_argument("--detailed-profiling", action="store_true", default=None,
                        help="detailed profiling verbosity (also lists the engine's layers)")
    parser.add_argument("--save-converted", metavar="FILE", help="also save the FP16-converted model")
    parser.add_argument("--save-recipe", metavar="FILE", help="save the fixes, profiles and settings used")
    parser.add_argument("--print-commands", action="store_true",
                        help="print the equivalent trtexec/tensorrt_rtx and Polygraphy commands")
    parser.add_argument("--strict-shapes", action="store_true",
                        help="refuse to build a dynamic model without a profile (default: build with the suggested "
                             "profiles and say so, with each dim's source)")
    add_memory_check_option(parser)
    add_backend_option(parser)


def run(args) -> Outcome:
    from workbench.core.runtime import load_backend
    from workbench.core.build.commands import reproduction_commands
    from workbench.core.build.engine import BuildSettings, build_engine
    from workbench.core.model.loading import load_model, save_model
    from workbench.core.recipe import Recipe, load_recipe, save_recipe
    from workbench.core.shapes.profiles import profiles_from_recipe, profiles_to_recipe

    backend = load_backend(args.backend)
    model = load_model(args.model)
    recipe = load_recipe(args.recipe) if args.recipe else Recipe(source_model=str(model.path))
    to_build = model
    if recipe.fixes:
        from workbench.core.fixes.apply import replay, steps_from_recipe

        results = replay(model, steps_from_recipe(recipe))
        to_build = results[-1].after if results else model
    settings_data = dict(recipe.build)
    settings_data.update({name: getattr(args, name) for name in SETTING_OPTIONS if getattr(args, name) is not None})
    settings = BuildSettings.from_dict(settings_data)
    profiles = profiles_from_options(args, to_build, backend) or profiles_from_recipe(recipe.profiles)
    suggested = ""
    if not profiles and not args.strict_shapes and any(t.is_dynamic for t in to_build.summary().inputs):
        from workbench.core.build.trial import trial_profiles

        profiles, assumed, _suggestion = trial_profiles(to_build, backend=backend)
        suggested = f"No profile given: building with the suggested profile{'s' if len(profiles) > 1 else ''} " \
                    f"({'; '.join(assumed)}). Give --min/--opt/--max-shapes or --strict-shapes to refuse instead."
    if settings.plugins:
        print(f"warning: loading plugin libraries runs their native code: {', '.join(settings.plugins)}",
              file=sys.stderr)
    if args.save_converted:
        from workbench.core.precision.conversion import convert_model

        converted = convert_model(to_build, "fp16")
        save_model(converted.proto, args.save_converted, protect=model.path, weights_dir=converted.weights_dir)
    result = build_engine(to_build, settings, profiles, args.output, backend=backend, progress=progress_printer(args),
                          check_memory=not args.ignore_memory_check)
    if args.save_recipe:
        save_recipe(Recipe(fixes=recipe.fixes, profiles=profiles_to_recipe(profiles), build=settings.to_dict(),
                           inputs=recipe.inputs, compare=recipe.compare, source_model=str(model.path)),
                    args.save_recipe)
    commands = reproduction_commands(str(model.path), str(args.output), settings, profiles, backend)
    text = "\n".join(filter(None, [suggested, result.describe()]))
    if args.print_commands:
        text += "".join(f"\n\n{name}:\n  {command}" for name, command in commands.items())
    return Outcome(EXIT_OK if result.succeeded else EXIT_PROBLEMS,
                   {**result.to_dict(), "commands": commands, "suggested_profiles": suggested}, text)
