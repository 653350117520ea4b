"""``trt-workbench quantize MODEL --mode int8 -o OUT``: a Q/DQ copy TensorRT builds, checked against FP32.

Exit codes: 0 written and every output within tolerance under onnxruntime, 1 written but beyond
tolerance, 2 error. Calibration: ``--calib FILE`` (.npz, one sample per leading index) or
``--calib-random N`` seeded random feeds (default 8) at the ``--shape`` given, a ``--recipe`` profile's
shape (``--profile``), or the shape service's realistic shapes. The accuracy check runs on ``--inputs``
files or on one more seeded random sample at those shapes.
"""

from __future__ import annotations

import argparse

from workbench.cli.options import (add_backend_option, add_input_data_options, add_model_argument,
                                   input_data_from_options)
from workbench.cli.output import EXIT_OK, EXIT_PROBLEMS, Outcome

NAME = "quantize"
HELP = "quantize a model to INT8 (explicit Q/DQ) and check its accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from workbench.core.precision.quantize import DEFAULT_CALIBRATION_SAMPLES

    add_model_argument(parser, "ONNX model file (never modified)")
    parser.add_argument("--mode", choices=("int8", "fp8"), default="int8",
                        help="int8 (built-in) or fp8 (needs nvidia-modelopt)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--calib", metavar="FILE", help="calibration arrays (.npz keyed by input name)")
    source.add_argument("--calib-random", type=int, metavar="N",
                        help=f"N seeded random samples at realistic shapes (default {DEFAULT_CALIBRATION_SAMPLES})")
    parser.add_argument("--exclude", nargs="+", default=[], metavar="NAME_OR_OP",
                        help="node names or op types to leave unquantized")
    parser.add_argument("--modelopt", action="store_true", help="use NVIDIA Model Optimizer (optional extra)")
    parser.add_argument("--build", action="store_true",
                        help="build both the FP32 original and the quantized model (no engine written) and report "
                             "the engines' sizes")
    add_input_data_options(parser, "[inputs] section (and profiles, for --profile)")
    add_backend_option(parser)
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="quantized model file")


def run(args) -> Outcome:
    from dataclasses import replace

    from workbench.core.compare.inputs import input_line, make_inputs
    from workbench.core.compare.metrics import Tolerances
    from workbench.core.model.loading import load_model, save_model
    from workbench.core.precision.conversion import KeepSet, check_accuracy
    from workbench.core.precision.quantize import (DEFAULT_CALIBRATION_SAMPLES, INT8_ATOL, INT8_RTOL,
                                                   INT8_TOLERANCE_REASON, calibration_samples, quantize)

    model = load_model(args.model)
    exclude = KeepSet.resolve(model, args.exclude)
    recipe, spec = input_data_from_options(args)
    calibration, calibration_source = calibration_samples(
        model, args.calib_random or DEFAULT_CALIBRATION_SAMPLES, args.calib or "", spec, recipe.profiles)
    # Random check data from the seed after the calibration samples': data the calibration has not seen.
    inputs = make_inputs(model, replace(spec, seed=spec.seed + len(calibration)), recipe.profiles)
    quantized = quantize(model, calibration, args.mode, exclude, use_modelopt=args.modelopt)
    tolerances = Tolerances(INT8_ATOL, INT8_RTOL)
    check = check_accuracy(model, quantized, inputs.arrays, tolerances)
    written = save_model(quantized.proto, args.output, weights_dir=quantized.weights_dir, protect=model.path)
    data = {"written": str(written), "mode": args.mode, "exclude": exclude.to_list(),
            "calibration": calibration_source, "inputs": inputs.describe(), **check.to_dict(),
            "tolerances": {**tolerances.to_dict(), "reason": INT8_TOLERANCE_REASON}}
    lines = [f"Wrote {written} ({args.mode.upper()} Q/DQ; calibration: {calibration_source})",
             *map(input_line, inputs.describe()),
             f"Tolerance: atol {tolerances.atol:g}, rtol {tolerances.rtol:g} ({INT8_TOLERANCE_REASON})"]
    lines += [f"  {o.name}: {o.verdict}  max abs {o.max_abs:.3g}  cosine {o.cosine:.4f}  {o.reason}"
              for o in check.outputs]
    if args.build:
        data["engines"] = engine_sizes(model, quantized, args.backend)
        lines.append(engine_size_text(data["engines"]))
    return Outcome(EXIT_OK if check.passed else EXIT_PROBLEMS, data, "\n".join(lines))


def engine_sizes(original, quantized, backend_choice: str) -> dict:
    """Trial builds (realistic profiles, no engine file) of the FP32 original and the quantized model."""
    from workbench.core.runtime import load_backend
    from workbench.core.build.trial import trial_build

    backend = load_backend(backend_choice)
    sizes = {}
    for label, model in (("fp32", original), ("quantized", quantized)):
        trial = trial_build(model, backend=backend)
        sizes[label] = {"built": trial.succeeded, "bytes": trial.result.engine_bytes if trial.result else 0,
                        "problems": [p.message for p in trial.problems]}
    return sizes


def engine_size_text(sizes: dict) -> str:
    fp32, quantized = sizes["fp32"], sizes["quantized"]
    if not (fp32["built"] and quantized["built"]):
        failed = [f"{label}: {'; '.join(entry['problems'][:1]) or 'not built'}"
                  for label, entry in sizes.items() if not entry["built"]]
        return "Engines: " + " | ".join(failed)
    return (f"Engines: quantized {quantized['bytes'] / 2**20:.2f} MiB vs FP32 {fp32['bytes'] / 2**20:.2f} MiB "
            f"({quantized['bytes'] / fp32['bytes']:.2f}x)")
