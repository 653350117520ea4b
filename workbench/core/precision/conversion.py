"""FP16 and BF16 conversion with an editable keep-in-FP32 set, checked against the FP32 model under onnxruntime.

The keep set names nodes or op types; besides it, the converter (``converter``) keeps the default keep rules'
numerically fragile ops, ops without a float16 form and index math in FP32, each with its reason. Every
converted model is judged (onnx full check, onnxruntime session) before it is returned. Accuracy is the
comparator's per-output metrics and verdicts, on inputs at realistic shapes from the shape service.

BF16: the written model is a true bfloat16 model (the converter's layout with bfloat16, weights rounded
from their FP32 values), which TensorRT-RTX builds strongly typed. onnxruntime's CPU provider
has no bfloat16 kernels for MatMul, Add, Mul, Relu or ReduceSum (NOT_IMPLEMENTED) but its Cast does
convert float↔bfloat16, so accuracy is measured on an emulation twin: the FP32 model with
Cast(→bfloat16)→Cast(→float) rounding wherever the converted model stores a bfloat16 value (the
weights and outputs of converted nodes). Results say so (``BF16_EMULATION``), never silently.

onnxruntime's CPU provider runs float16 ops that lack float16 kernels in float32 (its cast-inserting
graph pass), so a converted model's outputs there understate what TensorRT computes in FP16: an
intermediate that overflows float16 comes out finite. The check therefore also reads every tensor
the converted model stores in float16 and reports those that overflow where the FP32 model's do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto

from workbench.core.compare.comparison import feeds_for
from workbench.core.compare.metrics import OutputComparison, Tolerances, Verdict, compare_arrays
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.model.tensor_shapes import infer_value_info
from workbench.core.precision.converter import (DEFAULT_KEEP_RULES, Conversion, Decision, convert_float_model,
                                                assigned_node_names, decide_nodes, graphs,
                                                name_every_node)
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.validation import validate_fixed_model

TARGETS = ("fp16", "bf16")
TARGET_TYPES = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}
BF16_EMULATION = "emulated BF16 rounding, computed in FP32"
_CPU = ["CPUExecutionProvider"]  # the accuracy reference is the CPU provider, whatever else is installed
# float16 keeps ~3 significant decimal digits (machine epsilon ~1e-3): an element within 1 % of the
# FP32 value is what a converted model can be asked for; the comparator's FP32-level defaults are not.
FP16_ATOL = 1e-2
FP16_RTOL = 1e-2
FP16_TOLERANCE_REASON = "float16 keeps about 3 significant digits, so 1 % is the default tolerance for FP16"
# bfloat16 has float32's range but an 8-bit mantissa (relative rounding up to 0.4 %): a few per cent
# after a network's worth of rounded layers.
BF16_ATOL = 1e-2
BF16_RTOL = 3e-2
BF16_TOLERANCE_REASON = ("bfloat16 keeps about 2 significant digits, so 3 % (relative; 0.01 absolute) is the default "
                         "tolerance for BF16")
DEFAULT_TOLERANCES = {"fp16": (FP16_ATOL, FP16_RTOL, FP16_TOLERANCE_REASON),
                      "bf16": (BF16_ATOL, BF16_RTOL, BF16_TOLERANCE_REASON)}
BF16_NOT_RUNNABLE = ("its CPU provider has no bfloat16 kernels (accuracy: trt-workbench convert or the Precision "
                     "panel, on an emulation twin); the TensorRT parser checks it when the model is built")
_UNROUNDED = "__fp32_unrounded"  # suffix of the emulation twin's tensors before their bfloat16 rounding
_ROUNDED = "__bf16_rounded"


@dataclass
class KeepSet:
    """Nodes kept in FP32, by node name and by op type."""

    nodes: list[str] = field(default_factory=list)
    op_types: list[str] = field(default_factory=list)

    @classmethod
    def resolve(cls, model: LoadedModel, names_or_ops: list[str]) -> "KeepSet":
        """Sort each entry into a node name or an op type of ``model`` (If/Loop bodies included; an unnamed node by
        the name the converter gives it); unknown entries are an error."""
        node_names = set(assigned_node_names(model.proto))
        op_types = {n.op_type for graph in graphs(model.proto.graph) for n in graph.node}
        unknown = [item for item in names_or_ops if item not in node_names and item not in op_types]
        if unknown:
            raise WorkbenchError(f"{', '.join(unknown)} is neither a node name nor an op type of {model.name}.",
                                 "Name nodes as the triage list shows them, or op types such as ReduceSum.")
        return cls([item for item in names_or_ops if item in node_names],
                   [item for item in names_or_ops if item not in node_names])

    def to_list(self) -> list[str]:
        return [*self.nodes, *self.op_types]


def convert_with_decisions(model: LoadedModel, to: str = "fp16", keep: KeepSet | None = None,
                           keep_io_types: bool = True, default_rules: bool = True,
                           validate: bool = True) -> tuple[LoadedModel, Conversion]:
    """A converted copy of ``model`` (never the original) and every node's decision with its reason.

    ``keep`` stays FP32, and with ``default_rules`` the ops of ``DEFAULT_KEEP_RULES``; graph inputs and outputs stay
    float32 if ``keep_io_types``. With ``validate`` the result is judged (onnx full check, an onnxruntime session
    for FP16) and refused with the node at fault before anyone can write it.
    """
    if to not in TARGETS:
        raise WorkbenchError(f"Conversion to {to!r} is not available.", f"Choose one of: {', '.join(TARGETS)}.")
    keep = keep or KeepSet()
    proto = model.full_proto()
    conversion = convert_float_model(proto, TARGET_TYPES[to], keep.nodes, keep.op_types,
                                     default_rules=default_rules, keep_io=keep_io_types)
    if validate:
        validate_fixed_model(proto, f"The {to.upper()} conversion of {model.name}",
                             "Keep the node the message names in FP32 (--keep-fp32 / the Precision panel's keep set) "
                             "and report the model: the conversion should never make an invalid model.",
                             original=model.proto, onnxruntime_cannot_run=BF16_NOT_RUNNABLE if to == "bf16" else "")
    return LoadedModel.from_proto(proto, model.path), conversion


def convert_model(model: LoadedModel, to: str = "fp16", keep: KeepSet | None = None,
                  keep_io_types: bool = True, default_rules: bool = True, validate: bool = True) -> LoadedModel:
    """A converted copy of ``model`` (never the original); see ``convert_with_decisions``."""
    return convert_with_decisions(model, to, keep, keep_io_types, default_rules, validate)[0]


def default_keep_lines(model: LoadedModel) -> list[str]:
    """The default keep rules that apply to ``model``: one line per op type present, with its reason."""
    present = {node.op_type for graph in graphs(model.proto.graph) for node in graph.node}
    return [f"{op}: {reason}" for op, reason in DEFAULT_KEEP_RULES.items() if op in present]


def kept_lines(conversion: Conversion) -> list[str]:
    """Nodes the conversion kept in FP32 for a reason other than the user's keep set, one line per reason."""
    groups: dict[Decision, list[str]] = {}
    for name in conversion.kept():
        if conversion.decisions[name] is not Decision.KEPT_BY_USER:
            groups.setdefault(conversion.decisions[name], []).append(name)
    lines = []
    for decision, names in groups.items():
        # the default rules' reasons are listed per op type (default_keep_lines)
        details = [] if decision is Decision.KEPT_BY_DEFAULT_RULE else list(
            dict.fromkeys(conversion.reasons[n] for n in names if conversion.reasons.get(n)))
        detail = f" ({'; '.join(details[:2])}{'; …' if len(details) > 2 else ''})" if details else ""
        lines.append(f"{decision.value}{detail}: {len(names)} node(s), e.g. {', '.join(names[:3])}")
    return lines


def emulation_twin(model: LoadedModel, keep: KeepSet | None = None, keep_io_types: bool = True,
                   default_rules: bool = True) -> LoadedModel:
    """The FP32 model with bfloat16 rounding (Cast→bfloat16→float) where the BF16 conversion stores bfloat16.

    Rounded, as in the converted model: every float input of a converted node (weights, graph inputs,
    the cast-down outputs of kept nodes), every float output of a converted node, and with
    ``keep_io_types`` False the graph's float inputs and outputs too; inside If/Loop/Scan bodies the same
    (the converter converts them too; a body reads its outer-scope values rounded where it uses them). Every
    op computes in FP32, as onnxruntime's CPU provider can.
    """
    from onnx import shape_inference

    keep = keep or KeepSet()
    proto = shape_inference.infer_shapes(model.full_proto())
    name_every_node(proto)  # the names the converter decides by
    decisions = decide_nodes(proto, TARGET_TYPES["bf16"], keep.nodes, keep.op_types, default_rules=default_rules)

    def kept(node) -> bool:
        return not decisions[node.name].converted

    graph = proto.graph
    float_names = {v.name for g in graphs(graph) for v in [*g.input, *g.output, *g.value_info]
                   if v.type.tensor_type.elem_type == TensorProto.FLOAT}
    float_names |= {init.name for g in graphs(graph) for init in g.initializer
                    if init.data_type == TensorProto.FLOAT}
    rounded_io = set() if keep_io_types else {v.name for v in [*graph.input, *graph.output]} & float_names
    converted_outputs = {name for g in graphs(graph) for node in g.node if not kept(node)
                         for name in node.output if name in float_names}
    _round_graph(graph, "", float_names, converted_outputs, rounded_io, kept, {})
    return LoadedModel.from_proto(proto, model.path)


def _round_graph(graph, scope: str, float_names: set[str], converted_outputs: set[str], rounded_io: set[str],
                 kept, outer_rounded: dict[str, str]) -> None:
    """Insert the twin's roundings into ``graph`` (``scope``: a unique prefix for a body's new names;
    ``outer_rounded``: rounded copies the enclosing scopes already made, which a body reads as they are)."""
    from onnx import helper

    nodes, rounded = [], dict(outer_rounded)

    def rounding(source: str, target: str) -> list:
        middle = f"{target}{_ROUNDED}"
        return [helper.make_node("Cast", [source], [middle], name=f"{middle}_cast", to=TensorProto.BFLOAT16),
                helper.make_node("Cast", [middle], [target], name=f"{target}_cast", to=TensorProto.FLOAT)]

    def rounded_input(name: str) -> str:
        if name not in rounded:
            rounded[name] = f"{name}{_ROUNDED}{scope}_fp32"
            nodes.extend(rounding(name, rounded[name]))
        return rounded[name]

    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        converted = not kept(node)
        for index, name in enumerate(copy.input):
            if name in float_names and name not in converted_outputs and (converted or name in rounded_io):
                copy.input[index] = rounded_input(name)
        for attribute in copy.attribute:
            for index, body in enumerate(([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs)):
                _round_graph(body, f"{scope}__{node.name or node.op_type}_{attribute.name}{index}", float_names,
                             converted_outputs, set(), kept, rounded)
        outputs = [name for name in copy.output if name in (converted_outputs if converted else rounded_io)]
        for index, name in enumerate(copy.output):
            if name in outputs:
                copy.output[index] = f"{name}{_UNROUNDED}"
        nodes.append(copy)
        for name in outputs:
            nodes.extend(rounding(f"{name}{_UNROUNDED}", name))
    del graph.node[:]
    graph.node.extend(nodes)


def accuracy_model(model: LoadedModel, to: str, keep: KeepSet, keep_io_types: bool = True,
                   converted: LoadedModel | None = None, default_rules: bool = True) -> tuple[LoadedModel, str]:
    """The model whose onnxruntime outputs stand for the converted model's, and how it was computed.

    FP16: the converted model itself (``converted`` when already made). BF16: the emulation twin.
    """
    if to == "bf16":
        return emulation_twin(model, keep, keep_io_types, default_rules), BF16_EMULATION
    return converted or convert_model(model, to, keep, keep_io_types, default_rules), ""


def check_conversion(model: LoadedModel, to: str, keep: KeepSet, feeds: dict[str, np.ndarray],
                     tolerances: Tolerances, *, keep_io_types: bool = True, converted: LoadedModel | None = None,
                     reference: dict[str, np.ndarray] | None = None, default_rules: bool = True) -> "AccuracyCheck":
    """Accuracy of ``model`` converted to ``to`` with ``keep`` in FP32 (emulated for BF16, and said so)."""
    measured, emulation = accuracy_model(model, to, keep, keep_io_types, converted, default_rules)
    check = check_accuracy(model, measured, feeds, tolerances, reference)
    check.emulation = emulation
    return check


@dataclass
class AccuracyCheck:
    """A converted model against its FP32 original: the outputs' metrics and the overflowing tensors."""

    outputs: list[OutputComparison]
    overflows: dict[str, str]  # node name → the tensor it computes or reads in float16 that overflowed (FP32 finite)
    emulation: str = ""  # how the outputs were computed when not by the converted model itself (BF16)

    @property
    def passed(self) -> bool:
        """Every output PASSes (CANNOT_JUDGE is not a pass) and no float16 tensor overflowed."""
        return bool(self.outputs) and not self.overflows and all(o.verdict is Verdict.PASS for o in self.outputs)

    def to_dict(self) -> dict:
        return {"within_tolerance": self.passed, "outputs": [o.to_dict() for o in self.outputs],
                "overflows": self.overflows, "emulation": self.emulation or None}


def _float16_tensors(converted: LoadedModel, reference: LoadedModel) -> dict[str, tuple[str, list[str]]]:
    """Float16 tensors of ``converted`` that hold a value of the original → (the original tensor, the nodes to keep
    if it overflows): a converted node's output blames that node; a float16 copy the converter casts down from an
    FP32 value (the output of a kept node) blames the nodes that read the copy, since keeping them avoids it."""
    original = {name for node in reference.proto.graph.node for name in node.output}
    try:  # the converter declares only the types the model already declared
        declared = infer_value_info(converted.proto).value_info
    except Exception:  # noqa: BLE001 - shape inference raises many kinds; the declarations still count
        declared = converted.proto.graph.value_info
    types = {v.name: v.type.tensor_type.elem_type for v in declared}
    readers: dict[str, list[str]] = {}
    for node in converted.proto.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node.name)
    stored = {}
    for node in converted.proto.graph.node:
        if node.op_type == "Cast" and node.input[0] in original and types.get(node.output[0]) == TensorProto.FLOAT16:
            stored[node.output[0]] = (node.input[0], readers.get(node.output[0], []))
        for name in node.output:
            if name in original and types.get(name) == TensorProto.FLOAT16:
                stored[name] = (name, [node.name])
    return stored


def reference_values(reference: LoadedModel, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The FP32 model's outputs and every node output, computed once for any number of checks."""
    tensors = [name for node in reference.proto.graph.node for name in node.output if name]
    runner = OnnxruntimeRunner(reference, providers=_CPU, extra_outputs=tensors)
    return runner.run(feeds_for(runner, feeds))


def check_accuracy(reference_model: LoadedModel, converted: LoadedModel, feeds: dict[str, np.ndarray],
                   tolerances: Tolerances, reference: dict[str, np.ndarray] | None = None) -> AccuracyCheck:
    """Per-output metrics and verdicts of ``converted`` against ``reference_model`` under onnxruntime, plus overflows.

    ``reference`` (from ``reference_values``) saves running the FP32 model again.
    """
    expected = reference if reference is not None else reference_values(reference_model, feeds)
    stored = _float16_tensors(converted, reference_model)
    try:
        runner = OnnxruntimeRunner(converted, providers=_CPU, extra_outputs=list(stored))
    except WorkbenchError as exc:  # the converted model is the one at fault, not the user's file
        raise WorkbenchError(f"The precision conversion of {reference_model.name} made a model onnxruntime cannot "
                             f"load ({exc.message.split(': ', 1)[-1]}); {reference_model.name} itself loads.",
                             "Keep the node the message names in FP32 (--keep-fp32 / the Precision panel's keep "
                             "set), or report the model: the conversion step should never write an invalid model.",
                             exc.detail) from exc
    actual = runner.run(feeds_for(runner, feeds))
    outputs = []
    for output in reference_model.proto.graph.output:
        atol, rtol = tolerances.for_output(output.name)
        outputs.append(compare_arrays(output.name, expected[output.name], actual[output.name], atol, rtol,
                                      infinities_compare_equal=tolerances.infinities_compare_equal))
    overflows = {node: source for name, (source, nodes) in stored.items() for node in nodes
                 if np.count_nonzero(~np.isfinite(actual[name])) > np.count_nonzero(~np.isfinite(expected[source]))}
    return AccuracyCheck(outputs, overflows)
