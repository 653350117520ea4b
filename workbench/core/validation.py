"""Is a fixed model valid? Checked before a fix's result is kept, shown or written.

Two independent judges: ONNX's full check (``onnx.checker`` with ``full_check``: graph structure,
topological order, and strict shape inference) and an onnxruntime session (type binding and a
kernel for every node). Both run on the weightless copy (``tensor_shapes.weightless_copy``), so a
100 MB model costs no more than its graph; onnxruntime runs without graph optimizations, which only
cost time here. Ops onnxruntime has no kernel for (a TensorRT plugin such as EfficientNMS_TRT) make
the model *not checkable* by onnxruntime, not invalid; the checker still checks the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import onnx

from workbench.core import third_party_logs
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import iter_nodes
from workbench.core.onnxruntime_compat import foreign_ops, for_onnxruntime
from workbench.core.model.tensor_shapes import weightless_copy

ONNX_CHECKER, ONNXRUNTIME = "onnx checker (full)", "onnxruntime session"
# Foreign ops move to this domain for the checker, which refuses unknown ops in the ONNX domain
# but checks everything around ops of a declared domain of their own.
_UNCHECKED_DOMAIN = "workbench.unchecked"
_TOPOLOGY = re.compile(r"input '(?P<tensor>[^']*)' of node:\s*name: (?P<node>\S*) OpType: (?P<op>\S+)\s*"
                       r"is not output of any previous nodes")
_NODE_ERROR = re.compile(r"\(op_type:(?P<op>\w+), node name: (?P<node>[^)]*)\): "
                         r"(?:\[(?P<kind>\w+Error)\] )?(?P<what>.*)")
_ORT_NODE = re.compile(r"Node \((?P<node>[^)]*)\) Op \(\w+\)|node with name '(?P<named>[^']*)'")


@dataclass
class Validation:
    """What judged the fixed model valid, and what could not judge it (with the reason)."""

    checked_by: list[str] = field(default_factory=list)
    not_checkable: str = ""
    invalid_before: str = ""  # the fault the input model already had (the fix did not cause it)

    @property
    def text(self) -> str:
        if self.invalid_before:
            return f"not valid, as before: {self.invalid_before}"
        text = f"valid ({', '.join(self.checked_by)})"
        return text + (f"; {self.not_checkable}" if self.not_checkable else "")

    def to_dict(self) -> dict:
        return {"checked_by": self.checked_by, "not_checkable": self.not_checkable,
                "invalid_before": self.invalid_before, "text": self.text}


def _describe(error: str) -> tuple[str, str]:
    """(what is wrong, in one sentence; the node it is about or "")."""
    if match := _TOPOLOGY.search(error):
        return (f"node '{match['node']}' ({match['op']}) reads '{match['tensor']}', which no node before it computes "
                "and which is no input or initializer", match["node"])
    if match := _NODE_ERROR.search(error):
        kind = {"ShapeInferenceError": "shapes do not fit", "TypeInferenceError": "types do not fit"}.get(
            match["kind"] or "", "it is inconsistent")
        return f"in node '{match['node']}' ({match['op']}) {kind}: {match['what'].strip().rstrip('.')}", match["node"]
    first = error.strip().splitlines()[0] if error.strip() else "no reason given"
    match = _ORT_NODE.search(error)
    return first[:400], (match["node"] or match["named"]) if match else ""


@dataclass(frozen=True)
class _Failure:
    judge: str
    text: str  # the judge's own words

    @property
    def faults(self) -> frozenset[str]:
        """Each node's complaint (strict shape inference lists them all), or the judge's first line."""
        per_node = {match.group(0) for match in _NODE_ERROR.finditer(self.text)}
        return frozenset(per_node or {self.text.strip().splitlines()[0] if self.text.strip() else ""})

    def error(self, title: str, hint: str) -> WorkbenchError:
        what, node = _describe(self.text)
        return WorkbenchError(f"{title} produced an invalid model ({self.judge}): {what}.",
                              f"Nothing was changed or written. {hint}".strip(),
                              f"{self.judge}{f' on node {node!r}' if node else ''}:\n{self.text}")


def _declare_foreign_domain(skeleton: onnx.ModelProto, foreign: list[str]) -> None:
    for node, _parent in iter_nodes(skeleton.graph):
        if node.op_type in foreign and node.domain in ("", "ai.onnx"):
            node.domain = _UNCHECKED_DOMAIN
    skeleton.opset_import.append(onnx.helper.make_opsetid(_UNCHECKED_DOMAIN, 1))


def _strict_inference_error(skeleton: onnx.ModelProto) -> str:
    try:
        onnx.shape_inference.infer_shapes(skeleton, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        return str(exc)
    return ""


def _judge(proto: onnx.ModelProto, declared_shapes: bool = True, onnxruntime_cannot_run: str = "",
           ) -> Validation | _Failure:
    foreign = foreign_ops(proto)
    skeleton = weightless_copy(proto)
    if not declared_shapes:
        del skeleton.graph.value_info[:]
    if foreign:
        _declare_foreign_domain(skeleton, foreign)
    try:
        onnx.checker.check_model(skeleton, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        # A structural complaint (an output without a shape) often follows from a shape inference failure
        # upstream; that failure names the node at fault.
        cause = _strict_inference_error(skeleton)
        return _Failure(ONNX_CHECKER, f"{cause}\n\n{exc}" if cause and cause != str(exc) else str(exc))
    validation = Validation([ONNX_CHECKER])
    if foreign:
        validation.not_checkable = (f"onnxruntime cannot check it: {', '.join(foreign)} is not an op onnxruntime "
                                    "knows (a TensorRT plugin); the TensorRT parser checks it when the model is built")
        return validation
    if onnxruntime_cannot_run:
        validation.not_checkable = f"onnxruntime cannot check it: {onnxruntime_cannot_run}"
        return validation
    try:
        runnable = for_onnxruntime(skeleton)
    except WorkbenchError as exc:  # an opset newer than this onnxruntime
        validation.not_checkable = f"onnxruntime cannot check it: {exc.message}"
        return validation
    import onnxruntime as ort

    options = third_party_logs.session_options()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        ort.InferenceSession(runnable.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        return _Failure(ONNXRUNTIME, str(exc))
    validation.checked_by.append(ONNXRUNTIME)
    return validation


def validate_fixed_model(proto: onnx.ModelProto, title: str, hint: str = "",
                         original: onnx.ModelProto | None = None, onnxruntime_cannot_run: str = "") -> Validation:
    """Raise ``WorkbenchError`` (what is wrong, which node, what to try, the judge's text) if ``proto`` is invalid.

    Faults the ``original`` model already had are not the fix's doing: they are reported
    (``Validation.invalid_before``) and the result is kept, so a model an exporter wrote with, say, a
    stale declared shape can still be fixed. What the fix itself breaks is refused even then.
    ``onnxruntime_cannot_run`` (why, said in the result) leaves the judgement to the onnx checker, for
    results onnxruntime has no kernels for by design (a BF16 conversion).
    """
    verdict = _judge(proto, onnxruntime_cannot_run=onnxruntime_cannot_run)
    if isinstance(verdict, Validation):
        return verdict
    if original is None or isinstance(_judge(original), Validation):
        raise verdict.error(title, hint)
    # Both are invalid. Exporters often declare stale intermediate shapes, and one such fault hides what
    # lies behind it (inference stops there), so both are judged again on their computation alone.
    pre_existing = f"the model was already invalid before this fix ({verdict.judge}): {_describe(verdict.text)[0]}"
    computed = _judge(proto, declared_shapes=False, onnxruntime_cannot_run=onnxruntime_cannot_run)
    computed_before = _judge(original, declared_shapes=False)
    if isinstance(computed, Validation):
        return Validation(invalid_before=pre_existing)
    if isinstance(computed_before, _Failure) and computed.judge == computed_before.judge \
            and computed.faults <= computed_before.faults:
        return Validation(invalid_before=pre_existing)
    raise computed.error(title, hint)
