"""Precision bisect: a small set of nodes to keep in FP32 so the converted model meets the tolerance.

Two phases, each run being one onnxruntime session on the CPU (the FP32 reference runs once):
1. Overflow-guided: nodes whose float16 output (or float16 input copy) overflows where FP32 does not
   are kept, and the check repeats (keeping a node can move the overflow to the next stored tensor).
2. Delta debugging (Zeller's ddmin) over the remaining float nodes when outputs still miss the
   tolerance: the keep set shrinks from "every node" to a 1-minimal subset that still passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.core.compare.metrics import Tolerances
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.precision.conversion import (TARGET_TYPES, AccuracyCheck, KeepSet, check_conversion,
                                                 reference_values)
from workbench.core.precision.converter import decide_nodes, graphs, name_every_node
from workbench.core.progress import CancelToken, ProgressFn, no_progress

_FIRST_GRANULARITY = 2  # ddmin starts by halving


@dataclass
class BisectOutcome:
    keep: KeepSet
    check: AccuracyCheck  # the converted model with ``keep`` against FP32
    runs: int  # onnxruntime runs of converted models

    def to_dict(self) -> dict:
        return {"keep_fp32": self.keep.to_list(), "runs": self.runs, **self.check.to_dict()}


def bisect_keep_set(model: LoadedModel, feeds: dict[str, np.ndarray], tolerances: Tolerances,
                    start: KeepSet | None = None, *, to: str = "fp16", default_rules: bool = True,
                    progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> BisectOutcome:
    """Nodes to keep in FP32 (besides ``start``) so the model converted ``to`` meets ``tolerances`` on ``feeds``.

    For BF16 every run is on the emulation twin (see ``conversion``); bfloat16 has float32's range, so
    phase 1 finds nothing there and delta debugging does the work.
    """
    cancel = cancel or CancelToken()
    start = start or KeepSet()
    expected = reference_values(model, feeds)
    named = model.full_proto()  # with the weights: a weight beyond float16's range decides its node
    name_every_node(named)  # the names the converter and keep sets use (paddle2onnx leaves nodes unnamed)
    # Candidates: the nodes the conversion computes in the target type (If/Loop bodies included).
    decisions = decide_nodes(named, TARGET_TYPES[to], start.nodes, start.op_types, default_rules=default_rules)
    runs = 0

    def check(nodes: list[str]) -> AccuracyCheck:
        nonlocal runs
        cancel.raise_if_cancelled("The precision bisect")
        runs += 1
        progress(f"Precision bisect: run {runs}, {len(nodes)} node(s) kept in FP32", None)
        return check_conversion(model, to, KeepSet([*start.nodes, *nodes], start.op_types), feeds, tolerances,
                                reference=expected, default_rules=default_rules)

    kept: list[str] = []
    result = check(kept)
    while not result.passed and result.overflows:  # phase 1
        found = [node for node in result.overflows if node not in kept]  # the nodes each overflow blames
        if not found:
            break
        kept += found
        result = check(kept)
    if result.passed:
        return BisectOutcome(KeepSet([*start.nodes, *kept], start.op_types), result, runs)

    candidates = [n.name for graph in graphs(named.graph) for n in graph.node
                  if decisions[n.name].converted and n.name not in kept and n.op_type != "Constant"]
    if not check(kept + candidates).passed:
        raise WorkbenchError(f"Even with every node of {model.name} kept in FP32 the tolerance is not met.",
                             "Loosen the tolerance (atol/rtol), or check the inputs: the graph I/O conversion "
                             "may be what loses accuracy.")
    minimal = _ddmin(candidates, lambda subset: check(kept + subset).passed)
    keep = KeepSet([*start.nodes, *kept, *minimal], start.op_types)
    return BisectOutcome(keep, check(kept + minimal), runs)


def _ddmin(items: list[str], passes) -> list[str]:
    """A 1-minimal subset of ``items`` for which ``passes`` holds (it holds for ``items``)."""
    if passes([]):
        return []
    granularity = _FIRST_GRANULARITY
    while len(items) >= 2:
        size = -(-len(items) // granularity)
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        reduced = next((chunk for chunk in chunks if passes(chunk)), None)
        if reduced is not None:
            items, granularity = reduced, _FIRST_GRANULARITY
            continue
        complements = ([x for x in items if x not in chunk] for chunk in chunks) if granularity > 2 else iter(())
        reduced = next((rest for rest in complements if passes(rest)), None)
        if reduced is not None:
            items, granularity = reduced, max(granularity - 1, _FIRST_GRANULARITY)
            continue
        if granularity >= len(items):
            break
        granularity = min(len(items), granularity * 2)
    return items
