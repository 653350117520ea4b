"""The fix catalogue, in the order the UI lists it."""

from __future__ import annotations

from workbench.core.errors import WorkbenchError
from workbench.core.fixes.base import Fix
from workbench.core.fixes.dim_names import RENAME_DIMS
from workbench.core.fixes.folding import CUT_OUTPUTS, FOLD_CONSTANTS, REMOVE_UNUSED
from workbench.core.fixes.groupnorm import FUSE_GROUPNORM
from workbench.core.fixes.inputs import FREEZE_INPUT, SET_INPUT_DTYPE, SET_INPUT_SHAPE
from workbench.core.fixes.nms import REPLACE_NMS, suggest_cut_before_nms
from workbench.core.fixes.resize import FIX_RESIZE_MODE
from workbench.core.fixes.precision import CONVERT_PRECISION, QUANTIZE
from workbench.core.model.loading import LoadedModel
from workbench.core.problems import Problem

FIXES: dict[str, Fix] = {fix.name: fix for fix in (
    FOLD_CONSTANTS, SET_INPUT_SHAPE, SET_INPUT_DTYPE, RENAME_DIMS, FREEZE_INPUT, FIX_RESIZE_MODE, REPLACE_NMS,
    FUSE_GROUPNORM, CUT_OUTPUTS, REMOVE_UNUSED, CONVERT_PRECISION, QUANTIZE,
)}

# Pre-fill for fixes whose suggestion depends on another fix's problem (cut-outputs before an NMS).
SUGGESTIONS_FROM_PROBLEM_KIND = {("cut-outputs", "nms"): suggest_cut_before_nms}


def get_fix(name: str) -> Fix:
    fix = FIXES.get(name)
    if fix is None:
        raise WorkbenchError(f"Unknown fix '{name}'.", f"Available fixes: {', '.join(FIXES)}.")
    return fix


def suggested_params(fix_name: str, model: LoadedModel, problem: Problem | None = None) -> dict[str, str]:
    """Text values to pre-fill the parameter form for ``fix_name`` on ``problem``."""
    special = SUGGESTIONS_FROM_PROBLEM_KIND.get((fix_name, problem.kind if problem else ""))
    if special is not None:
        return special(model, problem)
    fix = get_fix(fix_name)
    return fix.suggest(model, problem) if fix.suggest is not None else {}
