"""Turn builder and parser error texts into problems that point at nodes, inputs or settings.

TensorRT names each layer after the ONNX node it came from, sometimes with a suffix
(``nms_2`` for node ``nms``, ``/conv/Conv_output_0``), and myelin groups list node names inside
``{ForeignNode[first...last]}``. So a node is found by matching the words of the message against
the model's node names, trying the known layer-name patterns before any other word.
"""

from __future__ import annotations

import re

from workbench.core.model.loading import LoadedModel, iter_nodes
from workbench.core.problems import Problem, ProblemKind, Severity, Stage, concise_message

_NO_PROFILE = re.compile(r"dynamic or shape inputs, but no optimization profile", re.I)
_MISSING_SHAPE_VALUES = re.compile(r"missing values for shape input tensor '?([^\s'.]+)", re.I)
_WORKSPACE_TOO_SMALL = re.compile(r"within workspace limit|increase the (allowed )?workspace", re.I)
_OUT_OF_MEMORY = re.compile(r"out of memory|OutOfMemory|insufficient (device |host )?memory|"
                            r"failed to allocate|allocation fail|std::bad_alloc|Requested amount of \w+ memory", re.I)
_CANCELLED = re.compile(r"BuildCanceled|Build canceled", re.I)
# Words that are layer names in the builder's usual sentences, most specific first.
_LAYER_PATTERNS = [re.compile(p) for p in (
    r"(\S+) has no (?:runners|implementation)",
    r"ForeignNode\[([^\]\s]+?)(?:\.\.\.|\])",
    r"[Ll]ayer:?\s+'?([^\s',:()]+)",
    r"[Nn]ode(?: name)?:?\s+'?([^\s',:()]+)",
)]
_WORD = re.compile(r"[\w./\-:]+")
_LAYER_SUFFIX = re.compile(r"(?:_\d+|_output_\d+|:\d+)$")


def _node_lookup(model: LoadedModel) -> dict[str, tuple[str, str, int | None]]:
    """Node name → (op, parent, top-level index)."""
    lookup = {}
    top_index = {}
    for index, node in enumerate(model.proto.graph.node):
        top_index[node.name] = index
    for node, parent in iter_nodes(model.proto.graph):
        if node.name:
            lookup[node.name] = (node.op_type, parent, top_index.get(parent or node.name))
    return lookup


def _match_node(word: str, nodes: dict) -> str | None:
    word = word.strip(".:'\"")
    while word:
        if word in nodes:
            return word
        shorter = _LAYER_SUFFIX.sub("", word)
        if shorter == word:
            return None
        word = shorter
    return None


def find_node(text: str, nodes: dict) -> str | None:
    """The ONNX node a builder message is about, or None."""
    for pattern in _LAYER_PATTERNS:
        for match in pattern.finditer(text):
            found = _match_node(match.group(1), nodes)
            if found:
                return found
    for word in _WORD.findall(text):
        found = _match_node(word, nodes)
        if found:
            return found
    return None


def map_builder_errors(errors: list[str], model: LoadedModel, workspace_mb: int | None = None) -> list[Problem]:
    """One problem per distinct builder error (cancellation is not a problem)."""
    problems: list[Problem] = []
    nodes = _node_lookup(model)
    dynamic = model.summary().dynamic_inputs
    seen = set()
    for text in errors:
        short = concise_message(text)
        if _CANCELLED.search(text) or short in seen:
            continue
        seen.add(short)
        problems.append(_problem(text, short, nodes, dynamic, workspace_mb))
    return problems


def _problem(text: str, short: str, nodes: dict, dynamic: list[str], workspace_mb: int | None) -> Problem:
    if _NO_PROFILE.search(text):
        return Problem(
            kind=ProblemKind.NO_PROFILE, severity=Severity.ERROR, stage=Stage.BUILD, inputs=list(dynamic), detail=text,
            message=f"The model has dynamic inputs ({', '.join(dynamic) or 'shape tensors'}) but the build had no "
                    "optimization profile.",
            hint="Give min/opt/max shapes for " + (", ".join(dynamic) or "the inputs")
                 + " in the Profiles panel (CLI: --min-shapes/--opt-shapes/--max-shapes).")
    missing_values = _MISSING_SHAPE_VALUES.search(text)
    if missing_values:
        name = missing_values.group(1)
        return Problem(
            kind=ProblemKind.MISSING_SHAPE_VALUES, severity=Severity.ERROR, stage=Stage.BUILD,
            inputs=[name], detail=text,
            message=f"'{name}' is a shape tensor (its values become shapes), but the optimization profile gives no "
                    "min/opt/max values for it.",
            hint=f"Give the values of '{name}' in the Profiles panel (CLI: '{name}:<values, e.g. 1x64>' in "
                 "--min-shapes/--opt-shapes/--max-shapes, as trtexec takes them).")
    if _WORKSPACE_TOO_SMALL.search(text):
        limit = f" of {workspace_mb} MiB" if workspace_mb else ""
        return Problem(kind=ProblemKind.WORKSPACE_TOO_SMALL, severity=Severity.ERROR, stage=Stage.BUILD, detail=text,
                       message=f"The workspace limit{limit} is too small for some layers: {short}",
                       hint="Raise the workspace limit in the build settings (or remove the limit).")
    if _OUT_OF_MEMORY.search(text):
        return Problem(kind=ProblemKind.OUT_OF_MEMORY, severity=Severity.ERROR, stage=Stage.BUILD, detail=text,
                       message=f"The builder ran out of memory: {short}",
                       hint="Set a smaller workspace limit, or shrink the profile's max shapes (batch size, "
                            "resolution), then build again.")
    node = find_node(text, nodes)
    if node:
        op, parent, index = nodes[node]
        where = f" inside '{parent}'" if parent else ""
        return Problem(kind=ProblemKind.BUILDER_ERROR, severity=Severity.ERROR, stage=Stage.BUILD,
                       node=node, op=op, parent=parent,
                       node_index=index, detail=text,
                       message=f"The TensorRT builder failed on {op} '{node}'{where}: {short}",
                       hint="Look for a fix for this node in the triage list (replace or move the op out of the "
                            "engine), or check whether a newer TensorRT supports it.")
    return Problem(kind=ProblemKind.BUILDER_ERROR, severity=Severity.ERROR, stage=Stage.BUILD, detail=text,
                   message=f"The TensorRT builder failed: {short}",
                   hint="The builder names no node. Try a narrower profile (a failure at some shapes only: the trial "
                        "build retries at the opt shapes alone), Split for TensorRT (Repair menu) to run the part "
                        "TensorRT takes, or a newer TensorRT; the smallest model that still fails is what a bug "
                        "report needs." + _no_gpu_note(text))


_CUDA_RUNTIME = re.compile(r"cudaError|CUDA driver version is insufficient|no CUDA-capable device", re.I)


def _no_gpu_note(text: str) -> str:
    """On a machine without a GPU, CUDA's complaints in TensorRT's messages are not the cause of the failure."""
    if not _CUDA_RUNTIME.search(text):
        return ""
    return (" The CUDA error in the message (e.g. 'cudaError 35: CUDA driver version is insufficient') is what "
            "TensorRT logs on a machine without a usable GPU; parsing and ahead-of-time builds do not need one, "
            "so it is not the cause here.")


def map_parser_errors(errors: list[dict], model: LoadedModel) -> list[Problem]:
    """Parser errors seen during a build (``{"desc", "node_name", "op"}``), as build-stage problems."""
    nodes = _node_lookup(model)
    problems = []
    for error in errors:
        name = error.get("node_name", "")
        op, parent, index = nodes.get(name, (error.get("op", ""), "", None))
        problems.append(Problem(kind=ProblemKind.PARSER_ERROR, severity=Severity.ERROR, stage=Stage.BUILD,
                                node=name, op=op,
                                parent=parent, node_index=index, detail=error["desc"],
                                message=f"The TensorRT parser rejected {op or 'node'} '{name}': "
                                        f"{concise_message(error['desc'])}",
                                hint=_no_gpu_note(error["desc"]).strip()))
    return problems
