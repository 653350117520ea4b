"""Option groups more than one command takes: the model, backend, optimization-profile shapes, input data,
output."""

from __future__ import annotations

import argparse

from workbench.core.backend import BACKEND_CHOICES
from workbench.resources import model_path

SHAPE_BOUNDS = ("min", "opt", "max")


def add_model_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The MODEL positional: a file, or a bundled sample's name (``trt-workbench analyze clean_cnn``)."""
    parser.add_argument("model", type=model_path, help=f"{help_text}; or a bundled sample's name, e.g. clean_cnn")


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument_group("backend").add_argument(
        "--backend", choices=BACKEND_CHOICES, default="auto",
        help="TensorRT flavour: full tensorrt when importable, else tensorrt-rtx (default: auto)")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    group.add_argument("--debug", action="store_true", help="show tracebacks")


def add_profile_shape_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("optimization profile shapes")
    for bound in SHAPE_BOUNDS:
        group.add_argument(f"--{bound}-shapes", action="append", default=[], metavar="NAME:AxBxC[,…]",
                           help=f"{bound} shapes of one profile (repeat --opt-shapes etc. for more profiles)")


def profiles_from_options(args, model, backend) -> list:
    """The --*-shapes options as profiles; like trtexec, a shape-tensor input's entry gives its values."""
    from workbench.core.analysis.support import find_shape_tensor_inputs
    from workbench.core.shapes.profiles import parse_shape_list, profile_from_shape_lists, with_shape_tensor_values

    given = [getattr(args, f"{bound}_shapes") for bound in SHAPE_BOUNDS]
    count = max(map(len, given))
    profiles = [profile_from_shape_lists(*(parse_shape_list(texts[i]) if i < len(texts) else {} for texts in given))
                for i in range(count)]
    return with_shape_tensor_values(profiles, find_shape_tensor_inputs(model, backend)) if profiles else []


def add_input_data_options(parser: argparse.ArgumentParser, recipe_sections: str) -> None:
    """The data a command runs the model on (compare, the accuracy check of convert and quantize): files, or seeded
    random data at given shapes, a recipe profile's shapes, or else the shape service's realistic ones."""
    group = parser.add_argument_group("input data")
    group.add_argument("--inputs", action="append", default=[], metavar="FILE",
                       help=".npz (arrays by input name) or .npy input data; inputs not covered get random data")
    group.add_argument("--seed", type=int, help="seed for random inputs (default 0)")
    group.add_argument("--shape", action="append", default=[], metavar="NAME:1x3x224x224",
                       help="shape of a dynamic input for random data (repeatable; default: realistic shapes from "
                            "the shape service, with their reasons)")
    group.add_argument("--profile", type=int, metavar="N",
                       help="shape random data from the recipe's optimization profile N (1-based), opt shapes")
    group.add_argument("--recipe", help=f"recipe file whose {recipe_sections} to use")


def input_data_from_options(args) -> tuple:
    """(the --recipe, or an empty one; its [inputs] section with the --inputs/--shape/--seed/--profile options
    over it, as an ``InputSpec``)."""
    from workbench.core.compare.inputs import InputSpec
    from workbench.core.recipe import Recipe, load_recipe
    from workbench.core.shapes.profiles import parse_shape_list

    recipe = load_recipe(args.recipe) if args.recipe else Recipe()
    spec = InputSpec.from_dict(recipe.inputs)
    spec.data_files = args.inputs or spec.data_files
    for text in args.shape:
        spec.shapes.update({name: list(dims) for name, dims in parse_shape_list(text).items()})
    spec.seed = spec.seed if args.seed is None else args.seed
    spec.profile = spec.profile if args.profile is None else args.profile - 1
    return recipe, spec


def add_memory_check_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ignore-memory-check", action="store_true",
                        help="build even when the estimate says the build would not fit in memory")
