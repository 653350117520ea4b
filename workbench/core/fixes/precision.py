"""Precision as recipe steps: convert-precision (FP16/BF16 with a keep-in-FP32 list, e.g. the bisect's result)
and quantize (explicit Q/DQ, calibrated on seeded random feeds at realistic shapes or an .npz file)."""

from __future__ import annotations

import onnx_graphsurgeon as gs

from workbench.core.fixes.base import Fix, FixContext, Param
from workbench.core.fixes.graph_tools import import_graph
from workbench.core.model.loading import LoadedModel
from workbench.core.precision.conversion import BF16_NOT_RUNNABLE, TARGETS, KeepSet, convert_with_decisions, kept_lines
from workbench.core.precision.quantize import DEFAULT_CALIBRATION_SAMPLES, MODES, calibration_samples, quantize


def _validate(model: LoadedModel, params: dict) -> None:
    KeepSet.resolve(model, params.get("keep", []))  # unknown names are an error before anything runs


def _validate_quantize(model: LoadedModel, params: dict) -> None:
    KeepSet.resolve(model, params.get("exclude", []))


def _quantize(graph: gs.Graph, params: dict, context: FixContext, model: LoadedModel) -> gs.Graph:
    exclude = KeepSet.resolve(model, params.get("exclude", []))
    calibration, source = calibration_samples(model, params["samples"], params.get("calib", ""))
    quantized = quantize(model, calibration, params["mode"], exclude, validate=False)  # apply_fix judges it
    context.warnings.append(f"Quantized to {params['mode'].upper()} (Q/DQ), calibration: {source}; left float: "
                            f"{', '.join(exclude.to_list()) or 'nothing'}; outputs change numerically (check parity).")
    return import_graph(quantized.proto, quantized.weights_dir)


def _transform(graph: gs.Graph, params: dict, context: FixContext, model: LoadedModel) -> gs.Graph:
    keep = KeepSet.resolve(model, params.get("keep", []))
    # apply_fix judges the result itself (onnx checker, onnxruntime), so the conversion does not judge it twice
    converted, conversion = convert_with_decisions(model, params["to"], keep, keep_io_types=params["keep_io"],
                                                   default_rules=params["default_keep"], validate=False)
    if params["to"] == "bf16":
        context.onnxruntime_cannot_run = BF16_NOT_RUNNABLE
    context.warnings.append(f"Converted to {params['to'].upper()}, kept in FP32: "
                            f"{', '.join(keep.to_list()) or 'nothing'} (by you); "
                            f"{'; '.join(kept_lines(conversion)) or 'nothing else'}; outputs change numerically "
                            "(check parity).")
    return import_graph(converted.proto, converted.weights_dir)


CONVERT_PRECISION = Fix(
    name="convert-precision", title="Convert precision",
    changes_meaning="",  # the same computation; its numbers may move, which parity measures
    description="Convert weights and activations to FP16 for a strongly typed TensorRT (TensorRT-RTX, TensorRT 11), "
                "keeping the listed nodes or op types in FP32 (trt-workbench convert --auto-keep finds them).",
    params=(Param("to", "choice", "The target precision.", required=False, default="fp16", choices=TARGETS),
            Param("keep", "tensors", "Node names or op types kept in FP32, joined by ';'.", required=False,
                  default=[]),
            Param("keep_io", "bool", "Keep graph inputs and outputs float32.", required=False, default=True),
            Param("default_keep", "bool", "Keep numerically fragile ops (Exp, Softmax, reductions, normalisations, "
                  "TopK …) in FP32, the default keep rules.", required=False, default=True)),
    transform=_transform, validate=_validate, may_change_numerics=True,
)


QUANTIZE = Fix(
    name="quantize", title="Quantize (Q/DQ)",
    changes_meaning="",  # the same computation; its numbers may move, which parity measures
    description="Insert explicit Q/DQ (INT8 built in; FP8 with NVIDIA Model Optimizer) calibrated on seeded random "
                "feeds at realistic shapes or an .npz file, leaving the listed nodes or op types float.",
    params=(Param("mode", "choice", "The quantized type.", required=False, default="int8", choices=MODES),
            Param("exclude", "tensors", "Node names or op types left unquantized, joined by ';'.", required=False,
                  default=[]),
            Param("samples", "int", "Seeded random calibration samples at realistic shapes (without calib).",
                  required=False, default=DEFAULT_CALIBRATION_SAMPLES),
            Param("calib", "file", "Calibration arrays (.npz keyed by input name, one sample per leading index).",
                  required=False, default="")),
    transform=_quantize, validate=_validate_quantize, may_change_numerics=True,
)
