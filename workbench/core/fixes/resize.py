"""fix-resize-mode: Resize settings the TensorRT parser rejects, changed to supported ones."""

from __future__ import annotations

import onnx_graphsurgeon as gs

from workbench.core.errors import WorkbenchError
from workbench.core.fixes.base import Fix, FixContext, Param
from workbench.core.fixes.detectors.resize import SUPPORTED_COORDINATE_MODES, rejected_nodes
from workbench.core.fixes.graph_tools import all_nodes, drop_unused_constant, gs_label, node_label
from workbench.core.model.loading import LoadedModel, iter_nodes
from workbench.core.problems import Problem

NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _validate(model: LoadedModel, params: dict) -> None:
    resizes = {node_label(n) for n, _ in iter_nodes(model.proto.graph) if n.op_type == "Resize"}
    if "node" in params and params["node"] not in resizes:
        raise WorkbenchError(f"The model has no Resize node named '{params['node']}'.",
                             f"Its Resize nodes are: {', '.join(sorted(resizes)) or 'none'}.")
    if "node" not in params and not rejected_nodes(model):
        raise WorkbenchError("No Resize node in this model uses a setting TensorRT rejects.",
                             "Name a node explicitly (node=…) to change it anyway.")


def _transform(graph: gs.Graph, params: dict, context: FixContext, model: LoadedModel) -> gs.Graph:
    wanted = {params["node"]} if "node" in params else {node_label(n) for n, _, _ in rejected_nodes(model)}
    for node in all_nodes(graph):
        if node.op != "Resize" or gs_label(node) not in wanted:
            continue
        before = node.attrs.get("coordinate_transformation_mode", "half_pixel")
        node.attrs["coordinate_transformation_mode"] = params["mode"]
        if before == "tf_crop_and_resize" and len(node.inputs) > 1:
            roi = node.inputs[1]
            node.inputs[1] = gs.Variable.empty()  # the roi only applies to tf_crop_and_resize
            drop_unused_constant(graph, roi)
            node.attrs.pop("extrapolation_value", None)
        if node.attrs.pop("antialias", 0):
            context.warnings.append(f"Resize '{node.name}': antialiasing removed; downscaled outputs change.")
        if "nearest_mode" in params:
            node.attrs["nearest_mode"] = params["nearest_mode"]
        if before != params["mode"]:
            context.warnings.append(f"Resize '{node.name}': coordinate mode {before} → {params['mode']}; "
                                    "outputs change numerically (see the parity check).")
    return graph


def _suggest(model: LoadedModel, problem: Problem | None) -> dict[str, str]:
    if problem and problem.op == "Resize" and problem.node:
        return {"node": problem.node, "mode": "half_pixel"}
    return {"mode": "half_pixel"}


FIX_RESIZE_MODE = Fix(
    name="fix-resize-mode", title="Fix Resize mode",
    changes_meaning="",  # the same computation; its numbers may move, which parity measures
    description="Change a Resize's coordinate transformation mode (and optionally its nearest rounding mode) "
                "from one TensorRT rejects (tf_crop_and_resize, half_pixel_symmetric, antialias) to a supported "
                "one.",
    params=(Param("node", "node", "The Resize node to change (default: every Resize TensorRT rejects).",
                  required=False),
            Param("mode", "choice", "The new coordinate_transformation_mode.", required=False, default="half_pixel",
                  choices=SUPPORTED_COORDINATE_MODES),
            Param("nearest_mode", "choice", "The new nearest_mode (nearest interpolation only).", required=False,
                  choices=NEAREST_MODES)),
    transform=_transform, validate=_validate, suggest=_suggest, may_change_numerics=True,
    needs_weights=False,
)
