"""Detectors over a model, and which fixes answer problems found elsewhere (parser, analysis).

Every analysis runs this module: it imports the detectors (``fixes.detectors``), never the catalogue of fixes with
their onnx-graphsurgeon transforms (``fixes.registry``).
"""

from __future__ import annotations

from workbench.core.fixes.detectors.cleanup import detect_foldable, detect_unused
from workbench.core.fixes.detectors.dim_names import detect_shared_dim_names
from workbench.core.fixes.detectors.groupnorm import detect_groupnorms
from workbench.core.fixes.detectors.inputs import detect_dtypes, detect_switches
from workbench.core.fixes.detectors.nms import detect_nms, detect_unavailable_plugins
from workbench.core.fixes.detectors.resize import detect_resize_modes, rejected_settings
from workbench.core.model.input_roles import steered_nodes
from workbench.core.model.loading import LoadedModel, iter_nodes
from workbench.core.problems import Problem, ProblemKind

# Each (model, backend or None) → the problems it finds, in the catalogue's order of the fixes that answer them.
DETECTORS = (detect_foldable, detect_dtypes, detect_shared_dim_names, detect_switches, detect_resize_modes,
             detect_nms, detect_groupnorms, detect_unused, detect_unavailable_plugins)


def detect_problems(model: LoadedModel, backend=None) -> list[Problem]:
    """Every detector's findings (each Problem's ``fixes`` filled); ``backend`` refines some."""
    return [problem for detector in DETECTORS for problem in detector(model, backend)]


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
