"""convert-precision: the model in FP16 with a keep-in-FP32 list, as a recipe step (e.g. the bisect's result)."""

from __future__ import annotations

import onnx_graphsurgeon as gs

from workbench.core.fixes.base import Fix, FixContext, Param
from workbench.core.model.loading import LoadedModel
from workbench.core.precision.conversion import TARGETS, KeepSet, convert_model


def _validate(model: LoadedModel, params: dict) -> None:
    KeepSet.resolve(model, params.get("keep", []))  # unknown names are an error before anything runs


def _transform(graph: gs.Graph, params: dict, context: FixContext, model: LoadedModel) -> gs.Graph:
    keep = KeepSet.resolve(model, params.get("keep", []))
    converted = convert_model(model, params["to"], keep, keep_io_types=params["keep_io"])
    context.warnings.append(f"Converted to {params['to'].upper()}, kept in FP32: "
                            f"{', '.join(keep.to_list()) or 'nothing'}; outputs change numerically (check parity).")
    return gs.import_onnx(converted.proto)


CONVERT_PRECISION = Fix(
    name="convert-precision", title="Convert precision",
    description="Convert weights and activations to FP16 for a strongly typed TensorRT (TensorRT-RTX, TensorRT 11), "
                "keeping the listed nodes or op types in FP32 (trt-workbench convert --auto-keep finds them).",
    params=(Param("to", "choice", "The target precision.", required=False, default="fp16", choices=TARGETS),
            Param("keep", "tensors", "Node names or op types kept in FP32, joined by ';'.", required=False,
                  default=[]),
            Param("keep_io", "bool", "Keep graph inputs and outputs float32.", required=False, default=True)),
    transform=_transform, validate=_validate, may_change_numerics=True,
)
