"""Profiles checked against the model before any build (no peer does this): onnxruntime runs every dynamic
input row of every profile at its min and its max, the other inputs at opt, and names the node that refuses."""

from __future__ import annotations

import math
from dataclasses import dataclass

from workbench.core.model.loading import LoadedModel
from workbench.core.progress import CancelToken
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
            base = {**suggestion.shapes(), **{n: r.opt for n, r in profile.shapes.items()}}
            results, node = {}, ""
            for which in ("min", "max"):
                run = prober.run({**base, name: profile.shapes[name].get(which)})
                results[which] = "" if run.ok else f"{failure_text(run, prober)}: {run.error[:200]}"
                node = node or run.node
            checks.append(RowCheck(index, name, results, node))
    finally:
        prober.close()
    return checks

