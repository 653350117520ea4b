"""Option groups more than one command takes: the model, backend, optimization-profile shapes, output."""

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


def add_memory_check_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ignore-memory-check", action="store_true",
                        help="build even when the estimate says the build would not fit in memory")
