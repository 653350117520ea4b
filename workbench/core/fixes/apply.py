"""Making steps (from the CLI's text, a form, a recipe) and applying them to a model.

A model is never changed in place: ``apply_fix`` returns a new ``LoadedModel`` and keeps the
previous one in the result, which is what undo restores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from workbench.core import third_party_logs
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.base import FixContext, FixPreview, FixStep, freeze_params
from workbench.core.fixes.graph_tools import diff_labels, export_model, import_graph, infer_shapes
from workbench.core.fixes.registry import get_fix
from workbench.core.validation import Validation, validate_fixed_model
from workbench.core.model.loading import LoadedModel
from workbench.core.model.switches import frozen_array
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.recipe import Recipe


@dataclass
class FixResult:
    step: FixStep
    before: LoadedModel
    after: LoadedModel
    preview: FixPreview
    warnings: list[str] = field(default_factory=list)
    frozen_inputs: dict[str, np.ndarray] = field(default_factory=dict)
    validation: Validation = field(default_factory=Validation)

    def to_dict(self) -> dict:
        return {"step": self.step.to_dict(), "spec": self.step.spec(), "preview": self.preview.to_dict(),
                "warnings": self.warnings, "validation": self.validation.to_dict()}

    def describe(self) -> str:
        """What the fix changed, whether the result is valid, and its warnings."""
        preview = self.preview
        lines = [preview.summary(), f"Result: {self.validation.text}"]
        lines += [f"{title}: {', '.join(names)}" for title, names in
                  (("Removed", preview.removed), ("Added", preview.added), ("Changed", preview.changed)) if names]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def make_step(name: str, params: dict | None = None) -> FixStep:
    """A step with canonical parameters; raises ``WorkbenchError`` for unknown fixes and bad values."""
    fix = get_fix(name)
    return FixStep(name, freeze_params(fix.coerce_params(dict(params or {}))), fix)


def parse_spec(text: str) -> FixStep:
    """``NAME[:key=value,…]`` (the CLI's --apply syntax) → step."""
    name, _, rest = text.strip().partition(":")
    raw = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise WorkbenchError(f"Cannot read '{part}' in '{text}'.",
                                 "Write parameters as key=value separated by commas, e.g. "
                                 "set-input-shape:input=images,shape=1x3x224x224.")
        raw[key.strip()] = value.strip()
    return make_step(name.strip(), raw)


def step_from_dict(data: dict) -> FixStep:
    if not isinstance(data, dict) or "name" not in data:
        raise WorkbenchError(f"A recipe fix entry has no name: {data!r}.", "Each [[fixes]] entry needs name = \"…\".")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise WorkbenchError(f"The params of fix '{data['name']}' are not a table.", "Write params = { key = value }.")
    return make_step(data["name"], params)


def frozen_inputs(original: LoadedModel, fixes: list[dict]) -> dict[str, np.ndarray]:
    """The values the recipe's freeze-input steps baked in, as arrays for ``original``'s inputs: comparing the
    original with the frozen model feeds it these (any other value runs a path the fixed model no longer has)."""
    found = {}
    for entry in fixes:
        step = step_from_dict(entry)
        params = step.param_dict
        if step.name == "freeze-input" and params.get("input") in {t.name for t in original.summary().inputs}:
            found[params["input"]] = frozen_array(original, params["input"], params["value"])
    return found


def steps_from_recipe(recipe: Recipe) -> list[FixStep]:
    return [step_from_dict(entry) for entry in recipe.fixes]


def _preview(before: LoadedModel, after: LoadedModel) -> FixPreview:
    removed, added, changed = diff_labels(before.proto, after.proto)
    old, new = before.summary(), after.summary()
    return FixPreview(removed, added, changed,
                      [f"{t.name} {t.dtype} {t.shape_text()}" for t in old.inputs],
                      [f"{t.name} {t.dtype} {t.shape_text()}" for t in new.inputs],
                      [t.name for t in old.outputs], [t.name for t in new.outputs],
                      old.node_count, new.node_count)


def apply_fix(model: LoadedModel, step: FixStep, *, progress: ProgressFn = no_progress,
              cancel: CancelToken | None = None) -> FixResult:
    """Run one step on ``model`` and return the new model; ``model`` itself is left untouched."""
    fix = get_fix(step.name)
    params = step.param_dict
    fix.check_params(model, params)
    progress(f"{fix.title}: reading the graph", 0.1)
    if fix.needs_weights:
        proto = model.full_proto()
    else:  # a copy: graphsurgeon reads it, and the caller's model must stay as it is
        proto = onnx.ModelProto()
        proto.CopyFrom(model.proto)
    if fix.needs_shapes:
        proto = infer_shapes(proto)
    graph = import_graph(proto, model.weights_dir)
    if cancel:
        cancel.raise_if_cancelled(fix.title)
    context = FixContext()
    progress(f"{fix.title}: transforming", 0.3)
    with third_party_logs.collect() as library_messages:
        graph = fix.transform(graph, params, context, model)
    # e.g. graphsurgeon's "Inference failed …" when onnxruntime cannot evaluate part of the graph
    # once each: graphsurgeon repeats a warning per tensor (e.g. every bfloat16 weight)
    context.warnings.extend(dict.fromkeys(f"{m.source}: {m.text.strip()}" for m in library_messages
                                          if m.severity in ("warning", "error")))
    if cancel:
        cancel.raise_if_cancelled(fix.title)
    progress(f"{fix.title}: writing the model", 0.8)
    fixed = export_model(graph, model.proto, context.opset)
    if context.infer_shapes:
        fixed = infer_shapes(fixed)
    progress(f"{fix.title}: checking the result (onnx checker, onnxruntime)", 0.9)
    validation = validate_fixed_model(fixed, fix.title, fix.invalid_hint, original=model.proto,
                                      onnxruntime_cannot_run=context.onnxruntime_cannot_run)
    if validation.invalid_before:
        context.warnings.append(f"{validation.invalid_before[0].upper()}{validation.invalid_before[1:]}; the fix "
                                "did not cause it.")
    after = LoadedModel.from_proto(fixed, weights_dir=None if fix.needs_weights else model.weights_dir)
    preview = _preview(model, after)
    if preview.is_empty:
        context.warnings.append(f"{fix.name} changed nothing in this model.")
    progress(f"{fix.title}: done", 1.0)
    return FixResult(step, model, after, preview, context.warnings, context.frozen_inputs, validation)


def preview_fix(model: LoadedModel, step: FixStep, **kwargs) -> FixPreview:
    return apply_fix(model, step, **kwargs).preview


def replay(model: LoadedModel, steps: list[FixStep], *, progress: ProgressFn = no_progress,
           cancel: CancelToken | None = None) -> list[FixResult]:
    """Apply ``steps`` in order (a recipe), each on the previous one's result."""
    results: list[FixResult] = []
    for index, step in enumerate(steps):
        progress(f"Step {index + 1}/{len(steps)}: {step.spec()}", index / max(len(steps), 1))
        try:
            results.append(apply_fix(results[-1].after if results else model, step, cancel=cancel))
        except WorkbenchError as exc:
            raise WorkbenchError(f"Step {index + 1} ({step.spec()}) failed: {exc.message}", exc.hint,
                                 exc.detail) from exc
    return results
