"""The fix catalogue: detect known conversion problems and repair the graph (onnx-graphsurgeon).

Each fix (``FIXES``) has a name, typed parameters, a detector, a transform and a description.
``make_step``/``parse_spec``/``step_from_dict`` build validated steps; ``apply_fix`` returns a new
model (the old one is kept for undo) with a preview of what changed; ``replay`` runs a recipe;
``detect_problems`` feeds the analysis. Nothing here imports ``analysis`` (it imports us).
"""

from workbench.core.fixes.apply import (FixResult, apply_fix, make_step, parse_spec, preview_fix, replay,
                                        step_from_dict, steps_from_recipe)
from workbench.core.fixes.base import Fix, FixPreview, FixStep, Param
from workbench.core.fixes.detect import detect_problems, suggest_fixes, suggested_params
from workbench.core.fixes.registry import FIXES, get_fix

__all__ = ["FIXES", "Fix", "FixPreview", "FixResult", "FixStep", "Param", "apply_fix", "detect_problems", "get_fix",
           "make_step", "parse_spec", "preview_fix", "replay", "step_from_dict", "steps_from_recipe",
           "suggest_fixes", "suggested_params"]
