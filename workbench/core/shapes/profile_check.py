"""Profiles checked against the model before any build (no peer does this): onnxruntime runs every dynamic
input row of every profile at its min and its max, the other inputs at opt, and names the node that refuses."""

from __future__ import annotations

import math
from dataclasses import dataclass

from workbench.core.model.loading import LoadedModel
from workbench.core.progress import CancelToken
from workbench.core.shapes.dims import ShapeSuggestion, concrete_shapes
from workbench.core.shapes.probe import Prober, failure_text
from workbench.core.shapes.profiles import Profile
from workbench.core.shapes.suggest import suggest_shapes


@dataclass
class RowCheck:
    """Whether onnxruntime runs the model with one input of one profile at its min and at its max shape
    (the other inputs at their opt shapes)."""

    profile: int
    input: str
    results: dict[str, str]  # "min"/"max" → "" when it runs, else why not
    node: str = ""  # the node that refused, when one did

    @property
    def ok(self) -> bool:
        return not any(self.results.values())

    def text(self) -> str:
        if self.ok:
            return f"'{self.input}' runs under onnxruntime at min and max"
        return "; ".join(f"'{self.input}' at {which}: {why}" for which, why in self.results.items() if why)

    def to_dict(self) -> dict:
        return {"profile": self.profile, "input": self.input, "ok": self.ok, "results": self.results,
                "node": self.node, "text": self.text()}


def _variable_values(suggestion: ShapeSuggestion, shapes: dict[str, tuple[int, ...]]) -> dict[str, int]:
    """The dim variables' values these input shapes give (by the symbolic names the model declares)."""
    labels = suggestion.labels()
    return {labels[(name, axis)]: value for name, shape in shapes.items() for axis, value in enumerate(shape)
            if (name, axis) in labels}


def _row_point(suggestion: ShapeSuggestion, profile: Profile, name: str, which: str) -> dict[str, tuple[int, ...]]:
    """Every input at the profile's opt, but ``name`` at its ``which`` shape, and every dim that shares a name with
    one of its dims (BERT's three inputs share ``sequence_length``) or is computed from it (Optimum's mask is
    past + sequence) moved with it: the point is one the model can be fed."""
    values = {**suggestion.variable_values("opt"),
              **_variable_values(suggestion, {n: r.opt for n, r in profile.shapes.items()}),
              **_variable_values(suggestion, {name: profile.shapes[name].get(which)})}
    shapes = concrete_shapes(suggestion.inputs, values, suggestion.relations, suggestion.labels())
    labels = suggestion.labels()
    # Dims the shape service has no variable for (static, or an expression it cannot invert) keep the profile's.
    for input_name, rng in profile.shapes.items():
        own = rng.get(which) if input_name == name else rng.opt
        shapes[input_name] = tuple(shapes[input_name][axis] if (input_name, axis) in labels or
                                   (input_name, axis) in suggestion.relations else own[axis]
                                   for axis in range(len(own)))
    return shapes


def probe_profiles(model: LoadedModel, profiles: list[Profile], *, seed: int = 0, progress=None,
                   cancel: CancelToken | None = None) -> list[RowCheck]:
    """Check every dynamic input row of every profile against the model under onnxruntime, before any build:
    a profile whose min or max the model cannot take (a size baked in at export, a too-small image) fails
    here with the node, instead of inside TensorRT."""
    suggestion = suggest_shapes(model, probe=False)
    values = {n: v.value for n, v in suggestion.values.items()}
    prober = Prober(model, values, seed, math.inf, cancel)
    checks = []
    rows = [(index, name) for index, profile in enumerate(profiles) for name in profile.shapes]
    try:
        for done, (index, name) in enumerate(rows):
            if progress is not None:
                progress(f"Checking profile {index + 1}, '{name}'", done / max(len(rows), 1))
            profile = profiles[index]
            results, node = {}, ""
            for which in ("min", "max"):
                run = prober.run(_row_point(suggestion, profile, name, which))
                results[which] = "" if run.ok else f"{failure_text(run, prober)}: {run.error[:200]}"
                node = node or run.node
            checks.append(RowCheck(index, name, results, node))
    finally:
        prober.close()
    return checks

