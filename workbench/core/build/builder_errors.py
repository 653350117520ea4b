"""Turn builder and parser error texts into problems that point at nodes, inputs or settings.

TensorRT names each layer after the ONNX node it came from, sometimes with a suffix
(``nms_2`` for node ``nms``, ``/conv/Conv_output_0``), and myelin groups list node names inside
``{ForeignNode[first...last]}``. So a node is found by matching the words of the message against
the model's node names, trying the known layer-name patterns before any other word.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence

from workbench.core.model.dim_names import dim_uses, is_placeholder, roles_differ
from workbench.core.model.loading import LoadedModel, TensorInfo, iter_nodes
from workbench.core.problems import Problem, ProblemKind, Severity, Stage, concise_message
from workbench.core.shapes.profiles import Profile

_NO_PROFILE = re.compile(r"dynamic or shape inputs, but no optimization profile", re.I)
_MISSING_SHAPE_VALUES = re.compile(r"missing values for shape input tensor '?([^\s'.]+)", re.I)
_WORKSPACE_TOO_SMALL = re.compile(r"within workspace limit|increase the (allowed )?workspace", re.I)
_OUT_OF_MEMORY = re.compile(r"out of memory|OutOfMemory|insufficient (device |host )?memory|"
                            r"failed to allocate|allocation fail|std::bad_alloc|Requested amount of \w+ memory", re.I)
_CANCELLED = re.compile(r"BuildCanceled|Build canceled", re.I)
# Dims that share a name must be equal: full TensorRT says "Profile kOPT values are not self-consistent. Dimensions
# with name ? must be equal. Condition '==' violated: 320 != 224"; TensorRT-RTX 1.7 says "?: Input dimensions with
# this name have different constant values or have contradictory IOptimizationProfile kMIN/kMAX constraints."
_SHARED_NAME = (re.compile(r"Dimensions with name (?P<name>.+?) must be equal"),
                re.compile(r"(?:^|\()\s*(?P<name>[^()]+?): Input dimensions with this name have different"))
_VIOLATED = re.compile(r"Condition '==' violated: (?P<values>\d+ != \d+)")
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


def match_name(word: str, names: Container[str]) -> str | None:
    """The name in ``names`` that ``word`` of a TensorRT message stands for: TensorRT names layers and tensors after
    the node with suffixes (``_1``, ``_output_0``, ``:0``), stripped one at a time until a name matches."""
    word = word.strip(".:'\"")
    while word:
        if word in names:
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
            found = match_name(match.group(1), nodes)
            if found:
                return found
    for word in _WORD.findall(text):
        found = match_name(word, nodes)
        if found:
            return found
    return None


def map_builder_errors(errors: list[str], model: LoadedModel, workspace_mb: int | None = None,
                       profiles: Sequence[Profile] = ()) -> list[Problem]:
    """One problem per distinct builder error (cancellation is not a problem); ``profiles`` are the build's,
    to name the values a refusal is about."""
    problems: list[Problem] = []
    nodes = _node_lookup(model)
    inputs = model.summary().inputs
    seen = set()
    for text in errors:
        short = concise_message(text)
        if _CANCELLED.search(text) or short in seen:
            continue
        seen.add(short)
        shared = next((m["name"].strip() for pattern in _SHARED_NAME if (m := pattern.search(text))), None)
        if shared is not None:
            problems.append(_shared_name_problem(text, shared, inputs, list(profiles)))
        else:
            problems.append(_problem(text, short, nodes, model.summary().dynamic_inputs, workspace_mb))
    return problems


def _differing_values(name: str, inputs: list[TensorInfo], profiles: list[Profile]) -> list[str]:
    """Where the profiles give the dims named ``name`` different values: "opt x[0] = 1, x[2] = 48, …"."""
    uses = dim_uses(inputs, name)
    found = []
    for index, profile in enumerate(profiles):
        bounds_by_values: dict[str, list[str]] = {}  # min = opt = max is said once
        for bound in ("min", "opt", "max"):
            values = {use: getattr(profile.shapes[use.tensor], bound)[use.axis] for use in uses
                      if use.tensor in profile.shapes}
            if len(set(values.values())) > 1:
                text = ", ".join(f"{use.tensor}[{use.axis}] = {value}" for use, value in values.items())
                bounds_by_values.setdefault(text, []).append(bound)
        where = f"profile {index + 1} " if len(profiles) > 1 else ""
        found += [f"{where}{'/'.join(bounds)} {text}" for text, bounds in bounds_by_values.items()]
    return found


def _shared_name_problem(text: str, name: str, inputs: list[TensorInfo], profiles: list[Profile]) -> Problem:
    """TensorRT takes dims that share a name to be equal: which dims, the values that differed, what to do."""
    uses = dim_uses(inputs, name)
    differing = _differing_values(name, inputs, profiles)
    violated = _VIOLATED.search(text)
    if differing:
        values = f"the optimization profile gives them different values ({'; '.join(differing)})"
    else:
        values = f"they differed ({violated['values']})" if violated else "the profile gives them different values"
    dims = ", ".join(use.text() for use in uses) or "dims of the network"
    fixes, hint = [], "Give them one value in every profile (min, opt and max)."
    if is_placeholder(name):
        fixes = ["rename-dims"]
        hint = f"Apply rename-dims: each dim gets a name of its own ('{name}' says nothing about them)."
    elif roles_differ(uses):
        hint = f"If these dims really differ, give them names of their own (rename-dims:names={name}); " \
               "otherwise give them one value in every profile."
    return Problem(kind=ProblemKind.SHARED_DIM_NAME, severity=Severity.ERROR, stage=Stage.BUILD,
                   inputs=list(dict.fromkeys(use.tensor for use in uses)), fixes=fixes, detail=text, hint=hint,
                   message=f"TensorRT takes dims that share the name '{name}' to be equal ({dims}), but {values}.")


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
