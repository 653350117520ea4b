"""fuse-groupnorm: PyTorch's GroupNorm export → one ONNX GroupNormalization.

Exporters below opset 18 write GroupNorm as Reshape [N, G, -1] → InstanceNormalization (scale 1,
bias 0) → Reshape back → Mul γ → Add β. GroupNormalization-21 takes per-channel γ/β (opset 18's
version took per-group ones, which cannot express PyTorch's), so the fused model uses opset 21.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnx import version_converter

from workbench.core.model.constant_values import gs_constant_value
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.base import Fix, FixContext
from workbench.core.fixes.graph_tools import export_model, import_graph
from workbench.core.model.loading import LoadedModel
from workbench.core.onnxruntime_compat import default_opset

GROUPNORM_OPSET = 21


@dataclass
class GroupNormMatch:
    reshape_in: gs.Node
    instance_norm: gs.Node
    mul: gs.Node
    add: gs.Node
    groups: int
    gamma: np.ndarray
    beta: np.ndarray


def _only_consumer(tensor: gs.Tensor, op: str) -> gs.Node | None:
    return tensor.outputs[0] if len(tensor.outputs) == 1 and tensor.outputs[0].op == op else None


def find_groupnorms(graph: gs.Graph) -> list[GroupNormMatch]:
    """Every GroupNorm export pattern; its constants may be initializers or Constant nodes (PyTorch writes both)."""
    def constant(tensor: gs.Tensor) -> np.ndarray | None:
        return gs_constant_value(tensor, graph.opset)

    def affine(node: gs.Node, data: gs.Tensor) -> np.ndarray | None:
        """The constant operand of a Mul/Add whose other operand is ``data``."""
        others = [t for t in node.inputs if t is not data]
        return constant(others[0]) if len(others) == 1 else None

    matches = []
    for node in graph.nodes:
        if node.op != "InstanceNormalization" or not node.inputs[0].inputs:
            continue
        reshape_in = node.inputs[0].inputs[0]
        group_shape = constant(reshape_in.inputs[1]) if reshape_in.op == "Reshape" else None
        scale, bias = constant(node.inputs[1]), constant(node.inputs[2])
        if group_shape is None or group_shape.size != 3 or scale is None or bias is None \
                or not (np.all(scale == 1) and np.all(bias == 0)):
            continue
        reshape_out = _only_consumer(node.outputs[0], "Reshape")
        mul = reshape_out and _only_consumer(reshape_out.outputs[0], "Mul")
        add = mul and _only_consumer(mul.outputs[0], "Add")
        if not (reshape_out and mul and add):
            continue
        gamma, beta = affine(mul, reshape_out.outputs[0]), affine(add, mul.outputs[0])
        groups = int(group_shape[1])
        if gamma is None or beta is None or gamma.size != beta.size or gamma.size % groups \
                or gamma.size != max(gamma.shape, default=1) or beta.size != max(beta.shape, default=1):
            continue
        matches.append(GroupNormMatch(reshape_in, node, mul, add, groups, gamma.reshape(-1), beta.reshape(-1)))
    return matches


def _validate(model: LoadedModel, _params: dict) -> None:
    if not find_groupnorms(import_graph(model.proto, model.weights_dir)):
        raise WorkbenchError("No GroupNorm export pattern (Reshape → InstanceNormalization → Reshape → Mul → Add) "
                             "was found.", "fuse-groupnorm only applies to that pattern.")


def _transform(graph: gs.Graph, _params: dict, context: FixContext, model: LoadedModel) -> gs.Graph:
    if default_opset(model.proto) < GROUPNORM_OPSET:
        try:
            converted = version_converter.convert_version(export_model(graph, model.proto), GROUPNORM_OPSET)
        except (onnx.checker.ValidationError, RuntimeError) as exc:
            raise WorkbenchError(f"The model cannot be converted to opset {GROUPNORM_OPSET}, which "
                                 "GroupNormalization with per-channel scale needs.",
                                 "Re-export the model with opset 21 and torch's native GroupNorm.", str(exc)) from exc
        graph = import_graph(converted, model.weights_dir)
    for match in find_groupnorms(graph):
        name = match.instance_norm.name.rsplit("/", 1)[0] or match.instance_norm.name
        output = match.add.outputs[0]
        match.add.outputs = []
        fused = gs.Node("GroupNormalization", name=f"{name}/group_norm", outputs=[output],
                        inputs=[match.reshape_in.inputs[0], gs.Constant(f"{name}/group_norm.scale", match.gamma),
                                gs.Constant(f"{name}/group_norm.bias", match.beta)],
                        attrs={"num_groups": match.groups,
                               "epsilon": float(match.instance_norm.attrs.get("epsilon", 1e-5))})
        graph.nodes.append(fused)
    context.opset = GROUPNORM_OPSET
    return graph.cleanup().toposort()


FUSE_GROUPNORM = Fix(
    name="fuse-groupnorm", title="Fuse GroupNorm",
    changes_meaning="",  # the same computation; its numbers may move, which parity measures
    description="Fuse PyTorch's GroupNorm export pattern (Reshape → InstanceNormalization → Reshape → Mul → Add) "
                "into one GroupNormalization op (opset 21, per-channel scale and bias). The model's opset is raised "
                "to 21 with ONNX's version converter.",
    params=(), transform=_transform, validate=_validate, may_change_numerics=True,
)
