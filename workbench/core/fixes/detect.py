"""Detectors over a model, and which fixes answer problems found elsewhere (parser, analysis)."""

from __future__ import annotations

from workbench.core.fixes.nms import detect_unavailable_plugins
from workbench.core.fixes.registry import FIXES, SUGGESTIONS_FROM_PROBLEM_KIND, get_fix
from workbench.core.fixes.resize import rejected_settings
from workbench.core.model.input_roles import steered_nodes
from workbench.core.model.loading import LoadedModel, iter_nodes
from workbench.core.problems import Problem, ProblemKind


def detect_problems(model: LoadedModel, backend=None) -> list[Problem]:
    """Every catalogue detector's findings (each Problem's ``fixes`` filled); ``backend`` refines some."""
    problems = []
    for fix in FIXES.values():
        if fix.detect is not None:
            problems.extend(fix.detect(model, backend))
    problems.extend(detect_unavailable_plugins(model, backend))
    return problems


def suggest_fixes(model: LoadedModel, problem: Problem) -> list[str]:
    """Fixes for a problem some other stage found (parser error, dynamic input)."""
    if problem.fixes:
        return list(problem.fixes)
    if problem.kind == ProblemKind.DYNAMIC_INPUT:
        return ["set-input-shape"]
    fixes = []
    switches = steered_nodes(model.proto.graph, model.summary().inputs)
    if any(problem.node in nodes or problem.parent in nodes for nodes in switches.values() if problem.node):
        fixes.append("freeze-input")
    node = next((n for n, _ in iter_nodes(model.proto.graph) if n.name and n.name == problem.node), None)
    if node is not None and node.op_type == "Resize" and rejected_settings(node):
        fixes.append("fix-resize-mode")
    if problem.op == "NonMaxSuppression":
        fixes.extend(["replace-nms", "cut-outputs"])
    return fixes


def suggested_params(fix_name: str, model: LoadedModel, problem: Problem | None = None) -> dict[str, str]:
    """Text values to pre-fill the parameter form for ``fix_name`` on ``problem``."""
    special = SUGGESTIONS_FROM_PROBLEM_KIND.get((fix_name, problem.kind if problem else ""))
    if special is not None:
        return special(model, problem)
    fix = get_fix(fix_name)
    return fix.suggest(model, problem) if fix.suggest is not None else {}
