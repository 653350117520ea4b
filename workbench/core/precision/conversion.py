"""FP16 conversion with an editable keep-in-FP32 set, checked against the FP32 model under onnxruntime.

The keep set names nodes or op types; the converter's own block list (ML ops, NMS, ... that have no
float16 form) is always kept. Accuracy is the comparator's per-output metrics and verdicts, on
inputs at realistic shapes from the shape service.

BF16 is not offered: onnxruntime's CPU provider has no bfloat16 kernels for MatMul, Add, Mul, Relu or
ReduceSum (checked with onnxruntime 1.2x: NOT_IMPLEMENTED), so a BF16 model's accuracy cannot be
measured here.

onnxruntime's CPU provider runs float16 ops that lack float16 kernels in float32 (its cast-inserting
graph pass), so a converted model's outputs there understate what TensorRT computes in FP16: an
intermediate that overflows float16 comes out finite. The check therefore also reads every tensor
the converted model stores in float16 and reports those that overflow where the FP32 model's do not.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from onnx import TensorProto

from workbench.core.compare.metrics import OutputComparison, Tolerances, Verdict
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel

TARGETS = ("fp16",)
_CPU = ["CPUExecutionProvider"]  # the accuracy reference is the CPU provider, whatever else is installed
# float16 keeps ~3 significant decimal digits (machine epsilon ~1e-3): an element within 1 % of the
# FP32 value is what a converted model can be asked for; the comparator's FP32-level defaults are not.
FP16_ATOL = 1e-2
FP16_RTOL = 1e-2
FP16_TOLERANCE_REASON = "float16 keeps about 3 significant digits, so 1 % is the default tolerance for FP16"


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
        raise WorkbenchError(f"Conversion to {to!r} is not available.",
                             f"Choose one of: {', '.join(TARGETS)} (onnxruntime cannot check BF16 on the CPU).")
    keep = keep or KeepSet()
    block_ops = set(float16.DEFAULT_OP_BLOCK_LIST) | set(keep.op_types)
    proto = model.full_proto()
    _unshare_initializers(proto, lambda node: node.name in keep.nodes or node.op_type in block_ops)
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
    _retarget_casts(converted, {n.name for n in model.proto.graph.node if n.op_type == "Cast"})
    return LoadedModel.from_proto(converted, model.path)


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

    @property
    def passed(self) -> bool:
        """Every output PASSes (CANNOT_JUDGE is not a pass) and no float16 tensor overflowed."""
        return bool(self.outputs) and not self.overflows and all(o.verdict is Verdict.PASS for o in self.outputs)

    def to_dict(self) -> dict:
        return {"within_tolerance": self.passed, "outputs": [o.to_dict() for o in self.outputs],
                "overflows": self.overflows}


def _float16_tensors(converted: LoadedModel, reference: LoadedModel) -> dict[str, str]:
    """Tensor → producing node, for node outputs the converted model stores in float16 and the original also has."""
    original = {name for node in reference.proto.graph.node for name in node.output}
    types = {v.name: v.type.tensor_type.elem_type for v in converted.proto.graph.value_info}
    return {name: node.name for node in converted.proto.graph.node for name in node.output
            if name in original and types.get(name) == TensorProto.FLOAT16}


def reference_values(reference: LoadedModel, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The FP32 model's outputs and every node output, computed once for any number of checks."""
    from workbench.core.compare.comparison import feeds_for
    from workbench.core.compare.runners import OnnxruntimeRunner

    tensors = [name for node in reference.proto.graph.node for name in node.output if name]
    runner = OnnxruntimeRunner(reference, providers=_CPU, extra_outputs=tensors)
    return runner.run(feeds_for(runner, feeds))


def check_accuracy(reference_model: LoadedModel, converted: LoadedModel, feeds: dict[str, np.ndarray],
                   tolerances: Tolerances, reference: dict[str, np.ndarray] | None = None) -> AccuracyCheck:
    """Per-output metrics and verdicts of ``converted`` against ``reference_model`` under onnxruntime, plus overflows.

    ``reference`` (from ``reference_values``) saves running the FP32 model again.
    """
    from workbench.core.compare.comparison import feeds_for
    from workbench.core.compare.metrics import compare_arrays
    from workbench.core.compare.runners import OnnxruntimeRunner

    expected = reference if reference is not None else reference_values(reference_model, feeds)
    stored = _float16_tensors(converted, reference_model)
    runner = OnnxruntimeRunner(converted, providers=_CPU, extra_outputs=list(stored))
    actual = runner.run(feeds_for(runner, feeds))
    outputs = []
    for output in reference_model.proto.graph.output:
        atol, rtol = tolerances.for_output(output.name)
        outputs.append(compare_arrays(output.name, expected[output.name], actual[output.name], atol, rtol,
                                      infinities_compare_equal=tolerances.infinities_compare_equal))
    overflows = {node: name for name, node in stored.items()
                 if np.count_nonzero(~np.isfinite(actual[name])) > np.count_nonzero(~np.isfinite(expected[name]))}
    return AccuracyCheck(outputs, overflows)
