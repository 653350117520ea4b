"""Profiles checked against the model before any build (no peer does this): onnxruntime runs every dynamic
input row of every profile at its min and its max, the other inputs at opt, and names the node that refuses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from workbench.core.model.loading import LoadedModel
from workbench.core.progress import CancelToken
from workbench.core.shapes.dims import ShapeSuggestion, concrete_shapes
from workbench.core.shapes.probe import MEMORY_REFUSAL, Prober, failure_text
from workbench.core.shapes.profiles import Profile
from workbench.core.shapes.suggest import probed_suggestion, suggest_shapes


@dataclass
class RowCheck:
    """Whether onnxruntime runs the model with one input of one profile at its min and at its max shape
    (the other inputs at their opt shapes)."""

    profile: int
    input: str
    results: dict[str, str]  # "min"/"max" → "" when it runs (or could not be run here), else why it fails
    node: str = ""  # the node that refused, when one did
    # "min"/"max" → why it was not run on this machine (the probe's memory limit): neither a pass nor a failure
    unchecked: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No shape of the row failed (a shape not run here is not a failure: see ``checked``)."""
        return not any(self.results.values())

    @property
    def checked(self) -> bool:
        """Both shapes ran: only then does the check prove the row."""
        return not self.unchecked

    def text(self) -> str:
        if not self.ok:
            return "; ".join(f"'{self.input}' at {which}: {why}" for which, why in self.results.items() if why)
        if self.unchecked:
            ran = [which for which in ("min", "max") if which not in self.unchecked]
            return "; ".join([f"'{self.input}' runs under onnxruntime at {' and '.join(ran)}"] * bool(ran) + [
                f"not checked at {which}: the model {why}" for which, why in self.unchecked.items()])
        return f"'{self.input}' runs under onnxruntime at min and max"

    def to_dict(self) -> dict:
        return {"profile": self.profile, "input": self.input, "ok": self.ok, "checked": self.checked,
                "results": self.results, "unchecked": self.unchecked, "node": self.node, "text": self.text()}


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


def _same_values(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(np.array_equal(first[n], second[n]) for n in first)


def probe_profiles(model: LoadedModel, profiles: list[Profile], *, seed: int = 0, progress=None,
                   cancel: CancelToken | None = None) -> list[RowCheck]:
    """Check every dynamic input row of every profile against the model under onnxruntime, before any build:
    a profile whose min or max the model cannot take (a size baked in at export, a too-small image) fails
    here with the node, instead of inside TensorRT."""
    suggestion = suggest_shapes(model, probe=False)
    values = {n: v.value for n, v in suggestion.values.items()}
    prober = Prober(model, values, seed, math.inf, cancel)
    probed = probed_suggestion(model, seed)
    if probed is not None and _same_values(values, {n: v.value for n, v in probed.values.items()}):
        prober.remember(probed.probes)  # the suggested profile's shapes ran in its probe already
    checks = []
    rows = [(index, name) for index, profile in enumerate(profiles) for name in profile.shapes]
    try:
        for done, (index, name) in enumerate(rows):
            if progress is not None:
                progress(f"Checking profile {index + 1}, '{name}'", done / max(len(rows), 1))
            profile = profiles[index]
            results, unchecked, node = {}, {}, ""
            for which in ("min", "max"):
                run = prober.run(_row_point(suggestion, profile, name, which))
                if not run.ok and run.error.startswith(MEMORY_REFUSAL):
                    results[which], unchecked[which] = "", run.error  # this machine's limit, not the model's
                else:
                    results[which] = "" if run.ok else f"{failure_text(run, prober)}: {run.error[:200]}"
                node = node or run.node
            checks.append(RowCheck(index, name, results, node, unchecked))
    finally:
        prober.close()
    return checks

