"""The float32 → float16/bfloat16 converter: one decision per node, a Cast at every boundary, valid by construction.

Why our own: onnxconverter-common's converter (used before) typed If/Loop bodies, Cast chains and graph I/O
inconsistently on real exports (onnxruntime refused Optimum decoders with a KV cache and Whisper's merged
decoder), named its Casts after their node (two unnamed nodes gave two Casts one name) and clamped every
weight to ±10,000, which silently changes trained weights such as a BatchNormalization's variance.

How it decides, per node of the graph and of every If/Loop/Scan body (the first rule that applies):
1. the user's keep set (node names, op types) → FP32;
2. the default keep rules (``DEFAULT_KEEP_RULES``, each with its reason) unless switched off → FP32;
3. If/Loop/Scan: the node's own inputs and outputs stay FP32, its bodies are converted inside (a body's
   formal inputs and outputs keep their types, with Casts inside the body where they meet converted nodes);
4. an op outside the ONNX domains, or whose ONNX schema has no float16 (bfloat16) form for a float
   input or output of this node → FP32; inputs the schema fixes to float32 (Resize's scales) stay float32;
5. a Cast from float32 to float32 (an exporter's explicit upcast: Hugging Face's RMSNorm computes in float32 so)
   → FP32; a float tensor whose type shape inference cannot tell → the node stays FP32 (nothing is guessed);
6. a weight or constant beyond the target's range (±65504 for float16; an attention mask's float32 minimum)
   stays FP32, and so do the nodes that read it; through ops that move or shift values (Where, Expand, Add,
   ...) the FP32 region extends to where the value is finally used (a Softmax, a comparison);
7. index math: float values computed only from tensor shapes (Shape → Cast → Mul → Floor → Cast) → FP32,
   since float16 holds integers exactly only up to 2048;
8. a Transpose that moves the leading axis into a MatMul → FP32: onnxruntime's CPU optimizer (ORT_ENABLE_ALL,
   seen in 1.32) crashes the process on its float16 form (fused into a batch-transposing MatMul);
9. a cheap element-wise op whose float inputs all come from FP32 nodes (the eps-Add and Sqrt after a
   kept ReduceMean) → FP32: converting it would only add a Cast and lose precision;
otherwise the node computes in the target type. Integer and bool tensors are never touched.

Tensors then get one stored type each: graph inputs float32 (or the target with ``keep_io`` off), a node's
float outputs its decision's type. A consumer that needs the other type reads it through one Cast per
tensor and type (a converted copy for an initializer; a weight used by both sides exists in both types).
Graph outputs keep float32 (a Cast renames the converted producer's tensor) unless ``keep_io`` is off.
Every inserted name is unique in the whole model.
"""

from __future__ import annotations

from collections import ChainMap
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from workbench.core.model.tensor_shapes import infer_value_info

FLOAT = TensorProto.FLOAT
_RANGE: dict[int, float] = {TensorProto.FLOAT16: float(np.finfo(np.float16).max),
                             TensorProto.BFLOAT16: float(np.finfo(np.float32).max)}
_SCHEMA_TYPE: dict[int, str] = {TensorProto.FLOAT16: "tensor(float16)", TensorProto.BFLOAT16: "tensor(bfloat16)"}
_SHORT: dict[int, str] = {TensorProto.FLOAT16: "fp16", TensorProto.BFLOAT16: "bf16", FLOAT: "fp32"}
_ONNX_DOMAINS = ("", "ai.onnx")
_CONTROL_FLOW = {"If", "Loop", "Scan"}
_SHAPE_SOURCES = {"Shape", "Size"}
# Ops that read only their input's shape (any type): they read whatever type is stored, without a Cast.
_SHAPE_READERS = {"Shape", "Size"}
# Cheap element-wise ops that stay FP32 when every float input comes from FP32 nodes (rule 9).
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Sqrt", "Reciprocal", "Neg", "Abs", "Clip", "Max", "Min"}
# Ops whose output keeps the magnitude of an out-of-range input (they move, select or shift values): the
# value passes on, so their readers stay FP32 too (rule 6). Other ops (Softmax, a bounded activation) end it.
_CARRIES_RANGE = {"Where", "Expand", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Concat", "Slice", "Gather",
                  "GatherElements", "GatherND", "Transpose", "Tile", "Identity", "Cast", "Split", "Pad", "Min", "Max",
                  "Add", "Sub", "Neg", "Abs"}
# Ops whose float output type is an attribute (``dtype``; Cast's ``to``), float32 when absent.
_DTYPE_ATTRIBUTE = {"Cast": "to", "RandomNormal": "dtype", "RandomUniform": "dtype", "RandomNormalLike": "dtype",
                    "RandomUniformLike": "dtype", "EyeLike": "dtype", "Bernoulli": "dtype", "Multinomial": "dtype"}
_DTYPE_DEFAULTS_FLOAT = {"RandomNormal", "RandomUniform"}

_EXPONENTIAL = "exponentials and powers leave float16's range (max 65504) for moderate inputs"
_REDUCTION = "a sum over many elements overflows float16 or loses its small terms"
_NORMALISATION = "the variance of small activations underflows float16, the mean of large ones overflows it"
# Ops kept in FP32 unless the user switches the default rules off, and why (TensorRT's own mixed-precision
# advice keeps the same families out of FP16).
DEFAULT_KEEP_RULES: dict[str, str] = {
    "Exp": _EXPONENTIAL, "Log": _EXPONENTIAL, "Pow": _EXPONENTIAL, "Softplus": _EXPONENTIAL,
    "Softmax": "exponentials summed over an axis: " + _REDUCTION,
    "LogSoftmax": "exponentials summed over an axis: " + _REDUCTION,
    "ReduceMean": _REDUCTION, "ReduceSum": _REDUCTION, "ReduceSumSquare": _REDUCTION, "ReduceL1": _REDUCTION,
    "ReduceL2": _REDUCTION, "ReduceLogSum": _REDUCTION, "ReduceLogSumExp": _REDUCTION, "ReduceProd": _REDUCTION,
    "CumSum": _REDUCTION,
    "LayerNormalization": _NORMALISATION, "InstanceNormalization": _NORMALISATION,
    "GroupNormalization": _NORMALISATION, "MeanVarianceNormalization": _NORMALISATION,
    "LpNormalization": _NORMALISATION,
    "TopK": "ties after float16 rounding reorder the selected indices",
    "RoiAlign": "box coordinates beyond 2048 lose integer precision in float16",
}


class Decision(Enum):
    """How one node computes after the conversion, and why."""

    CONVERTED = "converted"
    KEPT_BY_USER = "kept: in the keep set"
    KEPT_BY_DEFAULT_RULE = "kept: default keep rule"
    CONTROL_FLOW = "I/O kept FP32, bodies converted inside"
    NO_LOW_PRECISION_FORM = "kept: the op has no form in the target type"
    UNKNOWN_TYPES = "kept: a float tensor's type cannot be inferred"
    INDEX_MATH = "kept: index math on tensor shapes"
    OUT_OF_RANGE = "kept: a weight beyond the target type's range"
    FOLLOWS_KEPT = "kept: every float input comes from FP32 nodes"
    READ_BY_KEPT = "kept: a constant an FP32 node reads"
    ONNXRUNTIME_CRASH = "kept: onnxruntime crashes on its float16 form"
    EXPLICIT_FP32 = "kept: the exporter casts to float32 on purpose"
    NOT_FLOAT = "untouched: no float tensor"

    @property
    def converted(self) -> bool:
        return self is Decision.CONVERTED


@dataclass
class Conversion:
    """The converted model and the decision (with its reason) for every node, by name."""

    proto: onnx.ModelProto
    decisions: dict[str, Decision]
    reasons: dict[str, str] = field(default_factory=dict)  # node → the detail of its decision (rule, op, tensor)

    def kept(self) -> list[str]:
        """Nodes that touch float tensors and stay FP32 (control flow excluded: its bodies are converted)."""
        return [name for name, d in self.decisions.items()
                if not d.converted and d not in (Decision.NOT_FLOAT, Decision.CONTROL_FLOW)]


def graphs(graph: onnx.GraphProto):
    """``graph`` and every subgraph (If/Loop/Scan bodies) inside it."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            for sub in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                yield from graphs(sub)


def _subgraphs(node: onnx.NodeProto):
    """(path step, body) for each body of ``node``: the step extends the enclosing graph's path."""
    for attribute in node.attribute:
        for index, body in enumerate(([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs)):
            yield (node.name, attribute.name, index), body


def assigned_node_names(proto: onnx.ModelProto) -> list[str]:
    """The name each node (all graphs, in ``graphs`` order) has once ``name_every_node`` ran: its own if unique, else
    ``<op>_<index>`` or ``<name>_<n>``. Keep sets and the bisect use these names, so unnamed nodes can be kept."""
    taken = {node.name for graph in graphs(proto.graph) for node in graph.node if node.name}
    seen: set[str] = set()
    names = []
    for graph in graphs(proto.graph):
        for index, node in enumerate(graph.node):
            name = node.name
            if not name or name in seen:
                base, suffix = node.name or f"{node.op_type}_{index}", 1
                name = base
                while name in taken or name in seen:
                    name, suffix = f"{base}_{suffix}", suffix + 1
                taken.add(name)
            seen.add(name)
            names.append(name)
    return names


def name_every_node(proto: onnx.ModelProto) -> None:
    """Unique names for unnamed or same-named nodes across all graphs (paddle2onnx leaves many unnamed): decisions
    are keyed by name, and onnxruntime refuses two nodes of one name."""
    nodes = [node for graph in graphs(proto.graph) for node in graph.node]
    for node, name in zip(nodes, assigned_node_names(proto)):
        node.name = name


def _unshadow_bodies(proto: onnx.ModelProto) -> None:
    """Give body tensors that reuse an enclosing graph's name (Optimum's merged decoders compute each ``present.*``
    output inside both If branches under the graph output's own name) a name of their own. onnx's type inference
    reads a body name as the enclosing scope's declared type, so once the body's copy changes type the model no
    longer checks; a body's outputs are positional, so renaming them changes nothing outside."""
    taken = {name for g in graphs(proto.graph) for node in g.node for name in [*node.input, *node.output]}
    taken |= {v.name for g in graphs(proto.graph) for v in [*g.input, *g.output, *g.initializer]}

    def visit(graph: onnx.GraphProto, outer: set[str]) -> None:
        for node in graph.node:
            for _step, body in _subgraphs(node):
                enclosing = outer | {v.name for v in [*graph.input, *graph.output]} | {
                    t.name for t in graph.initializer} | {name for n in graph.node for name in n.output}
                for inner in body.node:
                    for index, name in enumerate(inner.output):
                        if name in enclosing:
                            new, suffix = f"{name}_body", 1
                            while new in taken:
                                new, suffix = f"{name}_body_{suffix}", suffix + 1
                            taken.add(new)
                            _rename_reads(body, {name: new}, top_outputs=True)
                            inner.output[index] = new
                            for value in body.value_info:
                                if value.name == name:
                                    value.name = new
                visit(body, enclosing)

    visit(proto.graph, set())


def drop_duplicate_value_info(proto: onnx.ModelProto) -> None:
    """One value_info per tensor: Ultralytics' exports (onnxslim) list some tensors twice; a tensor's type is one
    fact, and the first entry keeps it."""
    for graph in graphs(proto.graph):
        seen: set[str] = set()
        unique = []
        for value in graph.value_info:
            if value.name not in seen:
                seen.add(value.name)
                unique.append(value)
        if len(unique) != len(graph.value_info):
            del graph.value_info[:]
            graph.value_info.extend(unique)


def _constant_value(node: onnx.NodeProto) -> TensorProto | None:
    """A Constant node's value as a tensor (``value`` or the float shorthands), else None."""
    for attribute in node.attribute:
        if attribute.name == "value":
            return attribute.t
        if attribute.name == "value_float":
            return numpy_helper.from_array(np.array(attribute.f, np.float32))
        if attribute.name == "value_floats":
            return numpy_helper.from_array(np.array(attribute.floats, np.float32))
    return None


def _scoped_graphs(graph: onnx.GraphProto, path: tuple = ()):
    """(path, graph) for ``graph`` and every body in it; a body's path names its node and attribute, so two
    protos of one model (the original and its inferred copy) pair up."""
    yield path, graph
    for node in graph.node:
        for attribute in node.attribute:
            bodies = ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs)
            for index, body in enumerate(bodies):
                yield from _scoped_graphs(body, (*path, node.name, attribute.name, index))


def _element_types(proto: onnx.ModelProto) -> dict[tuple, dict[str, int]]:
    """Per graph (by path): tensor name → element type in the original model, from shape inference, declarations
    and weights. Per graph, because sibling bodies (an If's branches) may give one name two types."""
    try:
        inferred = dict(_scoped_graphs(infer_value_info(proto)))
    except Exception:  # noqa: BLE001 - shape inference raises many kinds; the declarations still count
        inferred = {}
    types: dict[tuple, dict[str, int]] = {}
    for path, graph in _scoped_graphs(proto.graph):
        scope = types[path] = {}
        for source in (inferred.get(path), graph):
            for value in [*source.input, *source.output, *source.value_info] if source is not None else []:
                if value.type.HasField("tensor_type") and value.type.tensor_type.elem_type:
                    scope.setdefault(value.name, value.type.tensor_type.elem_type)
        for tensor in graph.initializer:
            scope[tensor.name] = tensor.data_type
        for node in graph.node:
            if node.op_type == "Constant" and (value := _constant_value(node)) is not None:
                scope[node.output[0]] = value.data_type
    return types


def _opsets(proto: onnx.ModelProto) -> dict[str, int]:
    return {("" if o.domain == "ai.onnx" else o.domain): o.version for o in proto.opset_import}


def _formal(schema, index: int, outputs: bool):
    params = schema.outputs if outputs else schema.inputs
    if not params:
        return None
    if index < len(params):
        return params[index]
    last = params[-1]  # variadic: the last formal parameter repeats
    return last if last.option == onnx.defs.OpSchema.FormalParameterOption.Variadic else None


@dataclass
class _NodeTyping:
    """Which of a node's float inputs/outputs follow its decision, and which the schema fixes to float32."""

    possible: bool  # the schema allows the target type for every float input/output bound to a type parameter
    fixed_inputs: set[int]
    fixed_outputs: set[int]


class _Converter:
    def __init__(self, proto: onnx.ModelProto, target: int, kept_nodes: set[str], kept_ops: set[str],
                 default_rules: bool, keep_io: bool):
        self.proto, self.target, self.keep_io = proto, target, keep_io
        self.kept_nodes, self.kept_ops, self.default_rules = kept_nodes, kept_ops, default_rules
        self.scoped_types = _element_types(proto)
        self.types: ChainMap = ChainMap(self.scoped_types[()])  # the current graph's scope first, then outer ones
        self.path: tuple = ()  # the graph being decided or rewritten
        self.opsets = _opsets(proto)
        self.taken = {n.name for g in graphs(proto.graph) for n in g.node}
        self.taken |= {name for g in graphs(proto.graph) for n in g.node for name in [*n.input, *n.output]}
        self.decisions: dict[str, Decision] = {}
        self.reasons: dict[str, str] = {}
        self.typings: dict[str, _NodeTyping | None] = {}
        self.constant_values = {n.output[0]: v for g in graphs(proto.graph) for n in g.node
                                if n.op_type == "Constant" and (v := _constant_value(n)) is not None}
        # Float tensors holding values beyond the target's range: such weights, and what only moves them on.
        self.readers: dict[str, list[onnx.NodeProto]] = {}
        for graph in graphs(proto.graph):
            for node in graph.node:
                for name in node.input:
                    self.readers.setdefault(name, []).append(node)
        self.out_of_range = {t.name for g in graphs(proto.graph) for t in g.initializer
                             if t.data_type == FLOAT and _beyond(t, _RANGE[target])}

    # -- names ---------------------------------------------------------------------------------------------------
    def unique(self, base: str) -> str:
        name, suffix = base, 1
        while name in self.taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self.taken.add(name)
        return name

    def is_float(self, name: str) -> bool:
        return bool(name) and self.types.get(name) == FLOAT

    @contextmanager
    def scope(self, step: tuple):
        """Type lookups inside the body at ``step`` (its own names first, then the enclosing graphs')."""
        outer, outer_path = self.types, self.path
        self.path = (*outer_path, *step)
        self.types = outer.new_child(self.scoped_types[self.path])
        try:
            yield
        finally:
            self.types, self.path = outer, outer_path

    # -- decisions -----------------------------------------------------------------------------------------------
    def typing(self, node: onnx.NodeProto) -> _NodeTyping | None:
        """The schema's view of ``node`` (None: no schema here, e.g. an op of a custom domain)."""
        if node.name not in self.typings:
            self.typings[node.name] = self._typing(node)
        return self.typings[node.name]

    def _typing(self, node: onnx.NodeProto) -> _NodeTyping | None:
        domain = "" if node.domain in _ONNX_DOMAINS else node.domain
        if domain not in ("", "ai.onnx.ml"):
            return None
        try:
            schema = onnx.defs.get_schema(node.op_type, self.opsets.get(domain, 1), domain)
        except onnx.defs.SchemaError:
            return None
        allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
        wanted = _SCHEMA_TYPE[self.target]
        typing = _NodeTyping(True, set(), set())
        for outputs, names, fixed in ((False, node.input, typing.fixed_inputs), (True, node.output,
                                                                                 typing.fixed_outputs)):
            for index, name in enumerate(names):
                if not self.is_float(name):
                    continue
                formal = _formal(schema, index, outputs)
                if formal is None:
                    return None
                if formal.type_str in allowed:
                    typing.possible &= wanted in allowed[formal.type_str]
                else:  # a literal type such as tensor(float): this input stays float32
                    fixed.add(index)
        return typing

    def decide(self, graph: onnx.GraphProto, outer_kept_outputs: set[str]) -> None:
        """Decisions for ``graph``'s nodes and, recursively, its bodies'."""
        shape_derived: set[str] = set()
        constants = {t.name for t in graph.initializer} | set(self.constant_values)
        from_kept = set(outer_kept_outputs)  # float tensors produced by FP32 nodes
        for node in graph.node:
            decision, reason = self._decide(node, shape_derived, constants, from_kept)
            self.decisions[node.name], self.reasons[node.name] = decision, reason
            if node.op_type in _SHAPE_SOURCES or (
                    any(i in shape_derived for i in node.input)
                    and all(i in shape_derived or i in constants or not i for i in node.input)):
                shape_derived.update(node.output)
            # Values beyond the range travel through ops that move or shift them (Where, Expand, Add, ...).
            if decision is Decision.OUT_OF_RANGE and (node.op_type in _CARRIES_RANGE or not any(
                    self.is_float(i) for i in node.input)):
                self.out_of_range.update(o for o in node.output if self.is_float(o))
            if not decision.converted and decision is not Decision.KEPT_BY_USER and node.op_type != "Constant":
                from_kept.update(o for o in node.output if self.is_float(o))
            for step, body in _subgraphs(node):
                with self.scope(step):
                    self.decide(body, set())
        # A float constant read by an FP32 node stays FP32 (converted readers get a Cast, which TensorRT folds):
        # rounding it to the target type and back would lose precision for nothing.
        readers: dict[str, list[str]] = {}
        for g in graphs(graph):
            for node in g.node:
                for name in node.input:
                    readers.setdefault(name, []).append(node.name)
        for node in graph.node:
            if node.op_type == "Constant" and self.decisions[node.name].converted and self.is_float(node.output[0]) \
                    and any(not self.decisions[r].converted for r in readers.get(node.output[0], [])):
                self.decisions[node.name] = Decision.READ_BY_KEPT
                self.reasons[node.name] = "an FP32 node reads it"

    def _decide(self, node, shape_derived: set[str], constants: set[str], from_kept: set[str]
                ) -> tuple[Decision, str]:
        floats = [n for n in [*node.input, *node.output] if self.is_float(n)]
        unknown = [n for n in [*node.input, *node.output] if n and n not in self.types]
        if node.name in self.kept_nodes or node.op_type in self.kept_ops:
            return Decision.KEPT_BY_USER, "in the keep set"
        if node.op_type in _CONTROL_FLOW:
            return Decision.CONTROL_FLOW, "its bodies are converted inside; their inputs and outputs stay FP32"
        if not floats and not unknown:
            return Decision.NOT_FLOAT, ""
        if self.default_rules and node.op_type in DEFAULT_KEEP_RULES:
            return Decision.KEPT_BY_DEFAULT_RULE, DEFAULT_KEEP_RULES[node.op_type]
        if node.op_type == "Cast" and all(self.is_float(name) for name in (node.input[0], node.output[0])):
            return Decision.EXPLICIT_FP32, ("a Cast from float32 to float32 is an exporter's upcast (Hugging Face's "
                                            "RMSNorm computes in float32 this way)")
        if unknown:
            return Decision.UNKNOWN_TYPES, f"the type of {unknown[0]!r} cannot be inferred"
        typing = self.typing(node)
        if typing is None:
            return Decision.NO_LOW_PRECISION_FORM, f"{node.domain or 'ONNX'} {node.op_type} has no known schema"
        if not typing.possible:
            return Decision.NO_LOW_PRECISION_FORM, f"ONNX defines {node.op_type} without {_SHORT[self.target]}"
        float_inputs = [i for index, i in enumerate(node.input) if self.is_float(i) and index not in
                        typing.fixed_inputs]
        limit = _RANGE[self.target]
        for name in float_inputs:
            if name in self.out_of_range:
                return Decision.OUT_OF_RANGE, f"{name!r} holds values beyond ±{limit:g}"
        own_value = self.constant_values.get(node.output[0]) if node.op_type == "Constant" else (
            next((a.t for a in node.attribute if a.name == "value"), None) if node.op_type == "ConstantOfShape"
            else None)
        if own_value is not None and own_value.data_type == FLOAT and _beyond(own_value, limit):
            return Decision.OUT_OF_RANGE, f"its value is beyond ±{limit:g} (e.g. an attention mask's float32 minimum)"
        if node.op_type not in _SHAPE_SOURCES and any(i in shape_derived for i in float_inputs) and all(
                i in shape_derived or i in constants for i in float_inputs):
            return Decision.INDEX_MATH, "float16 holds integers exactly only up to 2048"
        if node.op_type == "Cast" and node.input[0] in shape_derived and node.output[0] in self.types \
                and self.is_float(node.output[0]):
            return Decision.INDEX_MATH, "float16 holds integers exactly only up to 2048"
        if node.op_type == "Transpose" and self._moves_leading_axis(node) and any(
                reader.op_type == "MatMul" and reader.input[0] == node.output[0]
                for reader in self.readers.get(node.output[0], [])):
            return Decision.ONNXRUNTIME_CRASH, ("onnxruntime's CPU optimizer (ORT_ENABLE_ALL, seen in 1.32) segfaults "
                                                "on a float16 Transpose that moves the leading axis into a MatMul")
        if node.op_type in _ELEMENTWISE and float_inputs and all(i in from_kept or i in constants
                                                                  for i in float_inputs) \
                and any(i in from_kept for i in float_inputs):
            return Decision.FOLLOWS_KEPT, ""
        return Decision.CONVERTED, ""

    @staticmethod
    def _moves_leading_axis(node: onnx.NodeProto) -> bool:
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), [])
        return not perm or perm[0] != 0  # no perm: all axes reversed

    # -- rewriting -----------------------------------------------------------------------------------------------
    def convert(self) -> None:
        self.decide(self.proto.graph, set())
        graph = self.proto.graph
        storage: dict[str, int] = {}
        weights = {t.name for t in graph.initializer}  # old IR versions list them as inputs too
        for value in graph.input:
            if self.is_float(value.name) and value.name not in weights:
                storage[value.name] = FLOAT if self.keep_io else self.target
                if not self.keep_io:
                    value.type.tensor_type.elem_type = self.target
        wanted_outputs = {o.name: (FLOAT if self.keep_io else self.target) for o in graph.output
                          if self.is_float(o.name)}
        self.rewrite(graph, ChainMap(storage), wanted_outputs, top_level=True)

    def rewrite(self, graph: onnx.GraphProto, storage: ChainMap, wanted_outputs: dict[str, int],
                top_level: bool) -> None:
        """Rewrite ``graph`` in place. ``storage``: the stored type of each float tensor in scope (outer first)."""
        for tensor in graph.initializer:
            if tensor.data_type == FLOAT:
                storage[tensor.name] = FLOAT
        # Weights that are also graph inputs are defaults a caller may override (always so before IR 4): they are
        # read through a Cast like any input, never replaced by a copy.
        declared = {value.name for value in graph.input}
        initializers = {t.name: t for t in graph.initializer if t.name not in declared}
        reads: dict[tuple[str, int], str] = {}
        nodes: list[onnx.NodeProto] = []
        new_initializers: list[TensorProto] = []

        def read(name: str, wanted: int) -> str:
            stored = storage.get(name, FLOAT)
            if stored == wanted:
                return name
            if (name, wanted) not in reads:
                if name in initializers:  # a weight is copied in the other type, not cast at run time
                    copy = _retyped(initializers[name], wanted, self.unique(f"{name}_{_SHORT[wanted]}"))
                    new_initializers.append(copy)
                    target_name = copy.name
                else:
                    target_name = self.unique(f"{name}_{_SHORT[wanted]}")
                    nodes.append(helper.make_node("Cast", [name], [target_name], to=wanted,
                                                  name=self.unique(f"{target_name}_cast")))
                reads[(name, wanted)] = target_name
                storage[target_name] = wanted
            return reads[(name, wanted)]

        # Top-level outputs keep their names: a producer whose stored type differs writes a renamed tensor,
        # and a Cast at the end writes the output's own name.
        renamed: dict[str, str] = {}
        if top_level:
            producers = {o: n for n in graph.node for o in n.output}
            for name, wanted in wanted_outputs.items():
                node = producers.get(name)
                if node is None:
                    continue
                produced = self._output_type(node, list(node.output).index(name))
                if produced != wanted:
                    renamed[name] = self.unique(f"{name}_{_SHORT[produced]}")
                    _rename_reads(self.proto.graph, {name: renamed[name]})
                    node.output[list(node.output).index(name)] = renamed[name]
                    self.types[renamed[name]] = FLOAT

        for node in graph.node:
            decision = self.decisions[node.name]
            typing = self.typing(node) if decision.converted else None
            for index, name in enumerate(node.input):
                if not self.is_float(name) or node.op_type in _SHAPE_READERS:
                    continue
                low = decision.converted and not (typing and index in typing.fixed_inputs)
                node.input[index] = read(name, self.target if low else FLOAT)
            if decision.converted:
                self._retype_attributes(node)
            for step, body in _subgraphs(node):
                body_storage = storage.new_child()
                for value in body.input:
                    if self.is_float(value.name):
                        body_storage[value.name] = FLOAT
                with self.scope(step):
                    self.rewrite(body, body_storage, {o.name: FLOAT for o in body.output if self.is_float(o.name)},
                                 top_level=False)
            nodes.append(node)
            for index, name in enumerate(node.output):
                if self.is_float(name):
                    storage[name] = self._output_type(node, index)
        # Outputs: top level through the renamed producers; a body's output entries simply take a new name.
        for output in graph.output:
            if output.name not in wanted_outputs:
                continue
            wanted = wanted_outputs[output.name]
            if output.name in renamed:
                nodes.append(helper.make_node("Cast", [renamed[output.name]], [output.name], to=wanted,
                                              name=self.unique(f"{output.name}_cast")))
            elif not top_level:
                output.name = read(output.name, wanted)
            else:  # a graph input or a weight passed straight out keeps its stored type
                wanted = storage.get(output.name, FLOAT)
            output.type.tensor_type.elem_type = wanted
        used = {name for node in nodes for name in node.input} | {o.name for o in graph.output}
        used |= {name for node in nodes for _step, body in _subgraphs(node) for name in _outer_reads(body)}
        used |= declared
        del graph.node[:]
        graph.node.extend(nodes)
        final = [t for t in [*graph.initializer, *new_initializers] if t.name in used]
        del graph.initializer[:]
        graph.initializer.extend(final)
        renamed_back: dict[str, str] = {}  # a weight only converted nodes read keeps its name
        for (name, wanted), copy_name in reads.items():
            if name in initializers and name not in used and copy_name in used:
                renamed_back[copy_name] = name
                storage[name] = wanted
        if renamed_back:
            _rename_reads(graph, renamed_back, top_outputs=True)
            for tensor in graph.initializer:
                tensor.name = renamed_back.get(tensor.name, tensor.name)
        for value in graph.value_info:
            if self.is_float(value.name) and value.name in storage:
                value.type.tensor_type.elem_type = storage[value.name]

    def _output_type(self, node: onnx.NodeProto, index: int) -> int:
        decision = self.decisions[node.name]
        if not decision.converted:
            return FLOAT
        typing = self.typing(node)
        return FLOAT if typing and index in typing.fixed_outputs else self.target

    def _retype_attributes(self, node: onnx.NodeProto) -> None:
        """Attributes that make a converted node produce float32 (Cast's ``to``, ``dtype``, constant values)."""
        if node.op_type == "Constant":
            value = _constant_value(node)
            if value is not None and value.data_type == FLOAT:
                del node.attribute[:]
                node.attribute.append(helper.make_attribute("value", _retyped(value, self.target, value.name)))
            return
        if node.op_type == "ConstantOfShape" and self.is_float(node.output[0]):
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            zero = numpy_helper.from_array(np.zeros(1, np.float32))
            retyped = _retyped(value if value is not None else zero, self.target, "")
            del node.attribute[:]
            node.attribute.append(helper.make_attribute("value", retyped))
            return
        attribute_name = _DTYPE_ATTRIBUTE.get(node.op_type)
        if attribute_name is None or not self.is_float(node.output[0]):
            return
        attribute = next((a for a in node.attribute if a.name == attribute_name), None)
        if attribute is None and node.op_type in _DTYPE_DEFAULTS_FLOAT:
            node.attribute.append(helper.make_attribute(attribute_name, self.target))
        elif attribute is not None and attribute.i == FLOAT:
            attribute.i = self.target


def _beyond(tensor: TensorProto, limit: float) -> bool:
    values = numpy_helper.to_array(tensor)
    finite = values[np.isfinite(values)]
    return bool(finite.size) and float(np.abs(finite).max()) > limit


def _retyped(tensor: TensorProto, target: int, name: str) -> TensorProto:
    """``tensor`` (float32) in ``target`` type, rounded to nearest (no clamping: range is decided before)."""
    values = numpy_helper.to_array(tensor).astype(np.float32)
    if target == TensorProto.BFLOAT16:
        import ml_dtypes  # NumPy's bfloat16 (round to nearest even, as onnxruntime's Cast)

        result = TensorProto(name=name, data_type=TensorProto.BFLOAT16, dims=values.shape)
        result.raw_data = values.astype(ml_dtypes.bfloat16).view(np.uint16).tobytes()
        return result
    if target == FLOAT:
        return numpy_helper.from_array(values, name)
    with np.errstate(over="ignore"):
        return numpy_helper.from_array(values.astype(np.float16), name)


def _outer_reads(graph: onnx.GraphProto) -> set[str]:
    """Every name a body's nodes read (its own and outer-scope ones), recursively."""
    return {name for g in graphs(graph) for node in g.node for name in node.input} | {o.name for o in graph.output}


def _rename_reads(graph: onnx.GraphProto, renames: dict[str, str], top_outputs: bool = False) -> None:
    """Every node (also in bodies) that reads an old name of ``renames`` reads its new one instead, and bodies'
    outputs (``graph``'s own outputs too with ``top_outputs``). One walk for all the renames: a walk per name made
    the conversion quadratic in the model's size (a weight read only by converted nodes is renamed back)."""
    for g in graphs(graph):
        for node in g.node:
            for index, name in enumerate(node.input):
                if name in renames:
                    node.input[index] = renames[name]
        if g is not graph or top_outputs:
            for output in g.output:
                if output.name in renames:
                    output.name = renames[output.name]


def decide_nodes(proto: onnx.ModelProto, target: int, kept_nodes=(), kept_ops=(), *,
                 default_rules: bool = True) -> dict[str, Decision]:
    """Each node's decision (by name; ``proto``'s nodes must be named, see ``name_every_node``), nothing changed."""
    converter = _Converter(proto, target, set(kept_nodes), set(kept_ops), default_rules, keep_io=True)
    converter.decide(proto.graph, set())
    return converter.decisions


def convert_float_model(proto: onnx.ModelProto, target: int, kept_nodes=(), kept_ops=(), *,
                        default_rules: bool = True, keep_io: bool = True) -> Conversion:
    """Convert ``proto`` in place from float32 to ``target`` (FLOAT16 or BFLOAT16); see the module's rules."""
    name_every_node(proto)
    _unshadow_bodies(proto)
    drop_duplicate_value_info(proto)
    converter = _Converter(proto, target, set(kept_nodes), set(kept_ops), default_rules, keep_io)
    converter.convert()
    return Conversion(proto, converter.decisions, converter.reasons)
