"""FP16 and BF16 conversion with an editable keep-in-FP32 set, checked against the FP32 model under onnxruntime.

The keep set names nodes or op types; the converter's own block list (ML ops, NMS, ... that have no
float16 form) is always kept. Accuracy is the comparator's per-output metrics and verdicts, on
inputs at realistic shapes from the shape service.

BF16: the written model is a true bfloat16 model (the FP16 conversion's layout, retyped, with weights
rounded from their FP32 values), which TensorRT-RTX builds strongly typed. onnxruntime's CPU provider
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

import warnings
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto

from workbench.core.compare.comparison import feeds_for
from workbench.core.compare.metrics import OutputComparison, Tolerances, Verdict, compare_arrays
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.runners import OnnxruntimeRunner

TARGETS = ("fp16", "bf16")
_TARGET_TYPES = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}
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
_UNROUNDED = "__fp32_unrounded"  # suffix of the emulation twin's tensors before their bfloat16 rounding
_ROUNDED = "__bf16_rounded"


@dataclass
class KeepSet:
    """Nodes kept in FP32, by node name and by op type."""

    nodes: list[str] = field(default_factory=list)
    op_types: list[str] = field(default_factory=list)

    @classmethod
    def resolve(cls, model: LoadedModel, names_or_ops: list[str]) -> "KeepSet":
        """Sort each entry into a node name or an op type of ``model``; unknown entries are an error."""
        node_names = {n.name for n in model.proto.graph.node}
        op_types = {n.op_type for n in model.proto.graph.node}
        unknown = [item for item in names_or_ops if item not in node_names and item not in op_types]
        if unknown:
            raise WorkbenchError(f"{', '.join(unknown)} is neither a node name nor an op type of {model.name}.",
                                 "Name nodes as the triage list shows them, or op types such as ReduceSum.")
        return cls([item for item in names_or_ops if item in node_names],
                   [item for item in names_or_ops if item not in node_names])

    def to_list(self) -> list[str]:
        return [*self.nodes, *self.op_types]


def convert_model(model: LoadedModel, to: str = "fp16", keep: KeepSet | None = None,
                  keep_io_types: bool = True) -> LoadedModel:
    """A converted copy of ``model`` (never the original): ``keep`` stays FP32, I/O float32 if ``keep_io_types``."""
    from onnxconverter_common import float16  # slow to import; only conversions need it

    if to not in TARGETS:
        raise WorkbenchError(f"Conversion to {to!r} is not available.", f"Choose one of: {', '.join(TARGETS)}.")
    keep = keep or KeepSet()
    block_ops = _block_ops(keep)
    proto = model.full_proto()
    _unshare_initializers(proto, _kept_predicate(keep))
    _drop_duplicate_value_info(proto)
    _name_every_node(proto)
    own_casts = {n.name for n in proto.graph.node if n.op_type == "Cast"}  # named before the converter adds its own
    try:
        with warnings.catch_warnings():  # the converter warns about every value it clamps
            warnings.simplefilter("ignore")
            converted = float16.convert_float_to_float16(
                proto, keep_io_types=keep_io_types, op_block_list=sorted(block_ops),
                node_block_list=keep.nodes, disable_shape_infer=False)
    except Exception as exc:  # the converter raises bare exceptions on graphs it cannot type
        raise WorkbenchError(f"Converting {model.name} to {to.upper()} failed: {exc}",
                             "Keep the node the message names in FP32, or export the model in FP16.",
                             repr(exc)) from exc
    _retarget_casts(converted, own_casts)
    if to == "bf16":
        _retype_float16_as_bfloat16(converted, proto)
    return LoadedModel.from_proto(converted, model.path)


def _name_every_node(proto) -> None:
    """Unique names for unnamed or same-named nodes: the converter names its Casts after the node they wrap
    ("<node>_output_cast0"), so two unnamed nodes (common in paddle2onnx exports) gave two Casts one name and an
    invalid model ("two nodes with same node name")."""
    taken = {node.name for graph in _graphs(proto.graph) for node in graph.node if node.name}
    seen: set[str] = set()
    for graph in _graphs(proto.graph):
        for index, node in enumerate(graph.node):
            if node.name and node.name not in seen:
                seen.add(node.name)
                continue
            base = node.name or f"{node.op_type}_{index}"
            name, suffix = base, 1
            while name in taken or name in seen:
                name, suffix = f"{base}_{suffix}", suffix + 1
            node.name = name
            seen.add(name)
            taken.add(name)


def _drop_duplicate_value_info(proto) -> None:
    """One value_info per tensor: Ultralytics' exports (onnxslim) list some tensors twice, and the converter retypes
    only the first, so onnxruntime refused the converted model ("Type (tensor(float)) of output arg … does not
    match … float16"). A tensor's type is one fact; the first entry keeps it."""
    for graph in _graphs(proto.graph):
        seen: set[str] = set()
        unique = []
        for value in graph.value_info:
            if value.name not in seen:
                seen.add(value.name)
                unique.append(value)
        if len(unique) != len(graph.value_info):
            del graph.value_info[:]
            graph.value_info.extend(unique)


def _block_ops(keep: KeepSet) -> set[str]:
    """Op types kept in FP32: the keep set's and the converter's block list (ops without a float16 form)."""
    from onnxconverter_common import float16

    return set(float16.DEFAULT_OP_BLOCK_LIST) | set(keep.op_types)


def _kept_predicate(keep: KeepSet):
    """Whether a node stays FP32: in the keep set by name or op type, or on the converter's block list."""
    block_ops = _block_ops(keep)
    return lambda node: node.name in keep.nodes or node.op_type in block_ops


def _graphs(graph):
    """``graph`` and every subgraph (If/Loop/Scan bodies) inside it."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            for sub in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                yield from _graphs(sub)


def _bfloat16_tensor(values: np.ndarray, name: str) -> TensorProto:
    import ml_dtypes  # NumPy's bfloat16 (round to nearest even, as onnxruntime's Cast)

    tensor = TensorProto(name=name, data_type=TensorProto.BFLOAT16, dims=values.shape)
    tensor.raw_data = values.astype(np.float32).astype(ml_dtypes.bfloat16).view(np.uint16).tobytes()
    return tensor


def _retype_float16_as_bfloat16(converted, original) -> None:
    # The converter only knows float16: its layout (which tensors are reduced, the casts around kept
    # nodes and graph I/O) is the BF16 model's too, retyped. Weights and constants are rounded from their
    # FP32 originals, not from the float16 copies (those are clamped to ±65504 and already rounded).
    from onnx import numpy_helper

    sources = {init.name: init for graph in _graphs(original.graph) for init in graph.initializer}
    constants = {(node.name, a.name): a.t for graph in _graphs(original.graph) for node in graph.node
                 for a in node.attribute if a.type == onnx.AttributeProto.TENSOR}

    def retyped(tensor: TensorProto, source: TensorProto | None) -> TensorProto:
        values = numpy_helper.to_array(source if source is not None and source.data_type == TensorProto.FLOAT
                                       else tensor)
        return _bfloat16_tensor(values, tensor.name)

    for graph in _graphs(converted.graph):
        for init in graph.initializer:
            if init.data_type == TensorProto.FLOAT16:
                init.CopyFrom(retyped(init, sources.get(init.name)))
        for value in [*graph.input, *graph.output, *graph.value_info]:
            if value.type.tensor_type.elem_type == TensorProto.FLOAT16:
                value.type.tensor_type.elem_type = TensorProto.BFLOAT16
        for node in graph.node:
            for attribute in node.attribute:
                if node.op_type == "Cast" and attribute.name == "to" and attribute.i == TensorProto.FLOAT16:
                    attribute.i = TensorProto.BFLOAT16
                elif attribute.type == onnx.AttributeProto.TENSOR and attribute.t.data_type == TensorProto.FLOAT16:
                    attribute.t.CopyFrom(retyped(attribute.t, constants.get((node.name, attribute.name))))


def emulation_twin(model: LoadedModel, keep: KeepSet | None = None, keep_io_types: bool = True) -> LoadedModel:
    """The FP32 model with bfloat16 rounding (Cast→bfloat16→float) where the BF16 conversion stores bfloat16.

    Rounded, as in the converted model: every float input of a converted node (weights, graph inputs,
    the cast-down outputs of kept nodes), every float output of a converted node, and with
    ``keep_io_types`` False the graph's float inputs and outputs too; inside If/Loop/Scan bodies the same
    (the converter converts them too; a body reads its outer-scope values rounded where it uses them). Every
    op computes in FP32, as onnxruntime's CPU provider can.
    """
    from onnx import shape_inference

    kept = _kept_predicate(keep or KeepSet())
    proto = shape_inference.infer_shapes(model.full_proto())
    graph = proto.graph
    float_names = {v.name for g in _graphs(graph) for v in [*g.input, *g.output, *g.value_info]
                   if v.type.tensor_type.elem_type == TensorProto.FLOAT}
    float_names |= {init.name for g in _graphs(graph) for init in g.initializer
                    if init.data_type == TensorProto.FLOAT}
    rounded_io = set() if keep_io_types else {v.name for v in [*graph.input, *graph.output]} & float_names
    converted_outputs = {name for g in _graphs(graph) for node in g.node if not kept(node)
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
                   converted: LoadedModel | None = None) -> tuple[LoadedModel, str]:
    """The model whose onnxruntime outputs stand for the converted model's, and how it was computed.

    FP16: the converted model itself (``converted`` when already made). BF16: the emulation twin.
    """
    if to == "bf16":
        return emulation_twin(model, keep, keep_io_types), BF16_EMULATION
    return converted or convert_model(model, to, keep, keep_io_types), ""


def check_conversion(model: LoadedModel, to: str, keep: KeepSet, feeds: dict[str, np.ndarray],
                     tolerances: Tolerances, *, keep_io_types: bool = True, converted: LoadedModel | None = None,
                     reference: dict[str, np.ndarray] | None = None) -> "AccuracyCheck":
    """Accuracy of ``model`` converted to ``to`` with ``keep`` in FP32 (emulated for BF16, and said so)."""
    measured, emulation = accuracy_model(model, to, keep, keep_io_types, converted)
    check = check_accuracy(model, measured, feeds, tolerances, reference)
    check.emulation = emulation
    return check


def _retarget_casts(converted, original_casts: set[str]) -> None:
    # The converter leaves the model's own Cast-to-float32 nodes as they are, so e.g. a uint8 image
    # cast to float32 meets float16 weights in the next op ("must have same input types"). Every
    # float tensor is float16 now (the converter casts back around kept-float32 ops and graph I/O).
    for node in converted.graph.node:
        if node.name in original_casts:
            for attribute in node.attribute:
                if attribute.name == "to" and attribute.i == TensorProto.FLOAT:
                    attribute.i = TensorProto.FLOAT16


def _unshare_initializers(proto, kept) -> None:
    # The converter types an initializer once: shared by a kept and a converted node, it ends up
    # float16 for both or float32 for both, and one node then mixes types. Each side gets its own copy.
    graph = proto.graph
    initializers = {init.name: init for init in graph.initializer}
    sides: dict[str, set[bool]] = {}
    for node in graph.node:
        for name in node.input:
            if name in initializers:
                sides.setdefault(name, set()).add(kept(node))
    shared = {name for name, found in sides.items() if len(found) == 2}
    for node in graph.node:
        if not kept(node):
            continue
        for index, name in enumerate(node.input):
            if name in shared:
                copy_name = f"{name}_fp32"
                if copy_name not in initializers:
                    copy = graph.initializer.add()
                    copy.CopyFrom(initializers[name])
                    copy.name = copy_name
                    initializers[copy_name] = copy
                node.input[index] = copy_name


@dataclass
class AccuracyCheck:
    """A converted model against its FP32 original: the outputs' metrics and the overflowing tensors."""

    outputs: list[OutputComparison]
    overflows: dict[str, str]  # node name → its float16 output tensor that overflowed (FP32 finite)
    emulation: str = ""  # how the outputs were computed when not by the converted model itself (BF16)

    @property
    def passed(self) -> bool:
        """Every output PASSes (CANNOT_JUDGE is not a pass) and no float16 tensor overflowed."""
        return bool(self.outputs) and not self.overflows and all(o.verdict is Verdict.PASS for o in self.outputs)

    def to_dict(self) -> dict:
        return {"within_tolerance": self.passed, "outputs": [o.to_dict() for o in self.outputs],
                "overflows": self.overflows, "emulation": self.emulation or None}


def _float16_tensors(converted: LoadedModel, reference: LoadedModel) -> dict[str, str]:
    """Tensor → producing node, for node outputs the converted model stores in float16 and the original also has."""
    original = {name for node in reference.proto.graph.node for name in node.output}
    types = {v.name: v.type.tensor_type.elem_type for v in converted.proto.graph.value_info}
    return {name: node.name for node in converted.proto.graph.node for name in node.output
            if name in original and types.get(name) == TensorProto.FLOAT16}


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
    overflows = {node: name for name, node in stored.items()
                 if np.count_nonzero(~np.isfinite(actual[name])) > np.count_nonzero(~np.isfinite(expected[name]))}
    return AccuracyCheck(outputs, overflows)
