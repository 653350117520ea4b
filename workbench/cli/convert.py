"""``trt-workbench convert MODEL --to fp16|bf16 -o OUT``: a reduced-precision copy, checked against FP32.

BF16 accuracy is measured on the emulation twin (``emulation`` in the JSON says so; see
``precision.conversion``), as is the ``--auto-keep`` bisect for BF16.

Exit codes: 0 written and every output within tolerance under onnxruntime, 1 written but beyond
tolerance, 2 error. With ``--json`` the object has ``written``, ``keep_fp32``, ``inputs`` (each
input's shape and dtype and where its data came from: ``--inputs`` files, or random data at the
``--shape`` given, a ``--recipe`` profile's shape, or the shape service's with its reasons) and
``default_keep_rules`` (the op types of this model the default keep rules keep FP32, with reasons),
``also_kept_fp32`` (other nodes the converter keeps FP32, grouped by reason), ``outputs`` (the comparator's
metrics per output), ``overflows`` (node → float16 tensor that
overflowed where FP32 did not) and ``within_tolerance``.
"""

from __future__ import annotations

import argparse

from workbench.cli.options import add_input_data_options, add_model_argument, input_data_from_options
from workbench.cli.output import EXIT_OK, EXIT_PROBLEMS, Outcome, progress_printer

NAME = "convert"
HELP = "convert a model to FP16 or BF16 with a keep-in-FP32 set and check its accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from workbench.core.precision.conversion import BF16_ATOL, BF16_RTOL, FP16_ATOL, FP16_RTOL, TARGETS

    add_model_argument(parser, "ONNX model file (never modified)")
    parser.add_argument("--to", choices=TARGETS, default="fp16",
                        help="target precision (default fp16; bf16 accuracy is emulated in FP32 under onnxruntime)")
    parser.add_argument("--keep-fp32", nargs="+", default=[], metavar="NAME_OR_OP",
                        help="node names or op types to keep in FP32")
    parser.add_argument("--auto-keep", action="store_true",
                        help="find nodes to keep in FP32 so the outputs meet --atol/--rtol (precision bisect)")
    parser.add_argument("--convert-io", action="store_true",
                        help="convert graph inputs and outputs too (default: they stay float32)")
    parser.add_argument("--no-default-keep", action="store_true",
                        help="convert the numerically fragile ops too (Exp, Pow, Softmax, reductions, normalisations, "
                             "TopK, RoiAlign), which the default keep rules keep in FP32")
    parser.add_argument("--atol", type=float,
                        help=f"absolute tolerance (default {FP16_ATOL} for FP16, {BF16_ATOL} for BF16)")
    parser.add_argument("--rtol", type=float,
                        help=f"relative tolerance (default {FP16_RTOL} for FP16, {BF16_RTOL} for BF16)")
    add_input_data_options(parser, "[inputs] section (and profiles, for --profile)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="converted model file")


def run(args) -> Outcome:
    from workbench.core.compare.inputs import input_line, make_inputs
    from workbench.core.compare.metrics import Tolerances
    from workbench.core.model.loading import load_model, save_model
    from workbench.core.precision.conversion import (DEFAULT_TOLERANCES, KeepSet, check_conversion,
                                                     convert_with_decisions, default_keep_lines, kept_lines)

    model = load_model(args.model)
    keep = KeepSet.resolve(model, args.keep_fp32)
    recipe, spec = input_data_from_options(args)
    inputs = make_inputs(model, spec, recipe.profiles)
    feeds = inputs.arrays
    default_atol, default_rtol, default_reason = DEFAULT_TOLERANCES[args.to]
    tolerances = Tolerances(default_atol if args.atol is None else args.atol,
                            default_rtol if args.rtol is None else args.rtol)
    tolerance_reason = default_reason if args.atol is None or args.rtol is None else "given on the command line"
    bisect_runs = None
    default_rules = not args.no_default_keep
    if args.auto_keep:
        from workbench.core.precision.bisect import bisect_keep_set

        found = bisect_keep_set(model, feeds, tolerances, keep, to=args.to, default_rules=default_rules,
                                progress=progress_printer(args))
        keep, bisect_runs = found.keep, found.runs
    converted, conversion = convert_with_decisions(model, args.to, keep, keep_io_types=not args.convert_io,
                                                   default_rules=default_rules)
    check = check_conversion(model, args.to, keep, feeds, tolerances, keep_io_types=not args.convert_io,
                             converted=converted, default_rules=default_rules)
    written = save_model(converted.proto, args.output, weights_dir=converted.weights_dir, protect=model.path)
    rules = default_keep_lines(model) if default_rules else []
    also_kept = kept_lines(conversion)
    data = {"written": str(written), "to": args.to, "keep_fp32": keep.to_list(), "default_keep_rules": rules,
            "also_kept_fp32": also_kept, **check.to_dict(),
            "bisect_runs": bisect_runs, "tolerances": {**tolerances.to_dict(), "reason": tolerance_reason},
            "inputs": inputs.describe()}
    lines = [f"Wrote {written} ({args.to.upper()}, kept in FP32: {', '.join(keep.to_list()) or 'nothing'})",
             f"Graph inputs and outputs: {'converted' if args.convert_io else 'kept float32 (Casts at the edges)'}",
             *([f"Default keep rules (--no-default-keep converts them): {len(rules)} op type(s) of this model stay "
                "FP32"] if rules else []), *(f"  {line}" for line in rules),
             *([f"Also kept FP32 by the converter: {len(also_kept)} group(s)"] if also_kept else []),
             *(f"  {line}" for line in also_kept),
             *map(input_line, inputs.describe()),
             *([f"Precision bisect: {bisect_runs} onnxruntime runs"] if bisect_runs is not None else []),
             f"Tolerance: atol {tolerances.atol:g}, rtol {tolerances.rtol:g} ({tolerance_reason})",
             *([f"Accuracy: {check.emulation} (onnxruntime's CPU provider has no bfloat16 kernels)"]
               if check.emulation else [])]
    lines += [f"  {o.name}: {o.verdict}  max abs {o.max_abs:.3g}  max rel {o.max_rel:.3g}  {o.reason}"
              for o in check.outputs]
    lines += [f"  overflows float16: {tensor} (node {node})" for node, tensor in check.overflows.items()]
    if check.overflows:
        lines.append("  (onnxruntime on the CPU computes these FP16 ops in FP32, so its outputs can look fine; "
                     "TensorRT computes them in FP16.)")
    lines.append("All outputs within tolerance." if check.passed else "Beyond tolerance: keep more nodes in FP32.")
    return Outcome(EXIT_OK if check.passed else EXIT_PROBLEMS, data, "\n".join(lines))
