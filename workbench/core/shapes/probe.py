"""The shape probe: candidate sizes run under onnxruntime, guided by what each failure says.

Candidates are tried best-first (the most typical assignment first). A failure is evidence, not just a
"no": a failing node with a constant shape operand (a Reshape baked at export) or a broadcast that names
the size it wanted ("77 by 128") puts those sizes next in line, and two failures that differ in one dim
are solved for the value at which a number that moves with the dim meets one that stays.

Probes cannot hurt: before a run, its memory is estimated from the inferred shapes of every tensor at
those input sizes; a run that would need more than the machine can spare (or more than
``PROBE_MEMORY_CAP``) is not started and counts as a failure that says so, so the search walks down.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import onnx

from workbench.core.memory import available_memory
from workbench.core.errors import WorkbenchError
from workbench.core.model.constant_values import ConstantValues
from workbench.core.model.loading import LoadedModel
from workbench.core.model.protos import element_size
from workbench.core.model.random_feeds import random_feeds
from workbench.core.model.tensor_shapes import weightless_copy
from workbench.core.progress import CancelToken
from workbench.core.runners import ARENA_REFUSAL, OnnxruntimeRunner
from workbench.core.shapes.dims import LADDERS, DimKind, DimSuggestion, ProbeRun, Shape, ShapeSource, ShapeSuggestion, \
    concrete_shapes

_SHAPE_OPERANDS = {"Reshape": 1, "Expand": 1, "Tile": 1, "ConstantOfShape": 0, "Slice": 2, "Split": 1,
                   "Resize": 3, "Range": 1}
# Probing a value of a batch-like dim costs more than trying other dims' values: batch is rarely the cause.
_RANK_WEIGHT = {DimKind.BATCH: 4}
DEFAULT_PROBE_BUDGET_SECONDS = 8.0
MAX_PROBES = 40
_DISTINCT_SIZE = 0.75  # runs whose sizes differ less tell nothing about how time grows with size
PROBE_MEMORY_CAP = 8 * 1024 ** 3  # no probe above 8 GB, whatever the machine has
# How a run the probe's memory limit stopped (or never started) says so: a fact about this machine, not the model.
MEMORY_REFUSAL = "needs more than the probe's memory limit"
_MEMORY_SHARE = 0.5  # of the memory available now: the window, TensorRT's parser and the OS need the rest
_BROADCAST = re.compile(r"broadcast.*?(\d+) by (\d+)", re.IGNORECASE | re.DOTALL)


_NODE_IN_ERROR = re.compile(r"Name:'([^']*)'")


def _degenerate(outputs: dict[str, np.ndarray]) -> bool:
    """True when no output says anything: all empty or constant, or any float output NaN/Inf."""
    informative = False
    for array in outputs.values():
        array = np.asarray(array)
        if array.dtype.kind == "f" and array.size and not np.all(np.isfinite(array)):
            return True
        if array.size > 1 and array.dtype.kind in "fiub" and np.ptp(array.reshape(-1).astype(np.float64)) > 0:
            informative = True
    return not informative


class ProbeMemory:
    """Estimates a probe's memory before it runs: every tensor's size at the probe's input shapes (ONNX shape
    inference on the weightless copy), an upper bound of what onnxruntime holds at once."""

    def __init__(self, model: LoadedModel):
        self.skeleton = weightless_copy(model.proto)
        available, where = available_memory()
        self.limit = int(min(PROBE_MEMORY_CAP, available * _MEMORY_SHARE))
        self.limit_text = f"{self.limit / 1024 ** 3:.1f} GB (half of the {where}, at most " \
                          f"{PROBE_MEMORY_CAP / 1024 ** 3:.0f} GB)"

    def estimate(self, shapes: dict[str, Shape]) -> int | None:
        """Bytes of every tensor whose shape inference knows at these input shapes; None when it cannot say."""
        skeleton = onnx.ModelProto()
        skeleton.CopyFrom(self.skeleton)
        total = 0
        for value in skeleton.graph.input:
            shape = shapes.get(value.name)
            if shape is None:
                continue
            dims = value.type.tensor_type.shape.dim
            for dim, size in zip(dims, shape):
                dim.Clear()
                dim.dim_value = int(size)
        del skeleton.graph.value_info[:]
        try:
            inferred = onnx.shape_inference.infer_shapes(skeleton, data_prop=True).graph
        except Exception:  # noqa: BLE001 - inference errors are onnx's own types; the run itself will tell
            return None
        for value in list(inferred.value_info) + list(inferred.output) + list(inferred.input):
            tensor = value.type.tensor_type
            if not tensor.HasField("shape") or value.name not in shapes and value in inferred.input:
                continue
            sizes = [d.dim_value for d in tensor.shape.dim if d.HasField("dim_value")]
            if len(sizes) == len(tensor.shape.dim):  # every dim known
                total += math.prod(sizes) * max(element_size(tensor.elem_type), 1)
        return total

    def refusal(self, shapes: dict[str, Shape]) -> str:
        """Why a run at ``shapes`` is not started ("" when it may run)."""
        if not self.limit:
            return ""
        needed = self.estimate(shapes)
        if needed is None or needed <= self.limit:
            return ""
        return f"{MEMORY_REFUSAL} of {self.limit_text}: it would need ~{needed / 1024 ** 3:.1f} GB (not run)"


class Prober:
    def __init__(self, model: LoadedModel, values: dict[str, np.ndarray], seed: int, deadline: float,
                 cancel: CancelToken | None):
        self.model = model
        self.values = values
        self.seed = seed
        self.deadline = deadline
        self.cancel = cancel
        self.runs: list[ProbeRun] = []
        self.cache: dict[tuple, ProbeRun] = {}
        self.memory = ProbeMemory(model)
        self.runner = OnnxruntimeRunner(model, quick=True, memory_cap=self.memory.limit or None)
        self.nodes = {n.name: n for n in model.proto.graph.node if n.name}
        self.constants = ConstantValues(model.proto)

    def remember(self, runs: list[ProbeRun]) -> None:
        """Answer from ``runs`` (earlier runs of this model with the same values and seed) instead of running the
        same shapes again: onnxruntime's verdict at a shape does not change between two runs."""
        for run in runs:
            self.cache.setdefault(_key(run.shapes), run)

    def out_of_time(self) -> bool:
        return time.perf_counter() > self.deadline or len(self.runs) >= MAX_PROBES

    def overrun(self, shapes: dict[str, Shape]) -> str:
        """Why a run at ``shapes`` is not started because it would end past the probe's deadline ("" when it
        would not, or when this probe has no run to judge by). Its time is predicted from this probe's own runs:
        the largest one that ran, scaled by the input's size to the power the runs show between two sizes (a
        diffusion UNet's attention: 2, a convolution: 1), at least linearly and at most quadratically."""
        if _key(shapes) in self.cache:
            return ""
        timed = sorted(((_size(r.shapes), r.seconds, r) for r in self.runs if r.ok and r.seconds > 0),
                       key=lambda entry: entry[:2])
        if not timed:
            return ""
        size, seconds, reference = timed[-1]
        smaller = [(s, t) for s, t, _ in timed if s <= size * _DISTINCT_SIZE and t < seconds]
        power = 1.0
        if smaller:
            other_size, other_seconds = smaller[-1]
            power = min(max(math.log(seconds / other_seconds) / math.log(size / other_size), 1.0), 2.0)
        predicted = seconds * (_size(shapes) / size) ** power
        left = self.deadline - time.perf_counter()
        if predicted <= left:
            return ""
        ran = ", ".join(f"{name} {'×'.join(map(str, shape))}" for name, shape in reference.shapes.items() if shape)
        return f"a run would take ~{predicted:.1f} s (the run at {ran} took {seconds:.1f} s), more than the " \
               f"{max(left, 0):.1f} s left of the probe's time budget"

    def run(self, shapes: dict[str, Shape]) -> ProbeRun:
        key = _key(shapes)
        if key in self.cache:
            return self.cache[key]
        if self.cancel is not None:
            self.cancel.raise_if_cancelled("The shape probe")
        started = time.perf_counter()
        refusal = self.memory.refusal(shapes)
        if refusal:
            result = ProbeRun(shapes, False, error=refusal)
            self.runs.append(result)
            self.cache[key] = result
            return result
        try:
            feeds = random_feeds(self.model, self.seed, shapes=shapes)
            feeds.update({k: v for k, v in self.values.items() if k in feeds})
            outputs = self.runner.run(feeds)
            result = ProbeRun(shapes, True, _degenerate(outputs))
        except WorkbenchError as exc:
            detail = exc.detail or exc.message
            match = _NODE_IN_ERROR.search(detail)
            if ARENA_REFUSAL in detail:  # the run hit the cap: a fact about this machine, not about the model
                cap = self.runner.memory_cap or self.memory.limit
                where = f" in '{match.group(1)}'" if match else ""
                result = ProbeRun(shapes, False, error=f"{MEMORY_REFUSAL} of {cap / 1024 ** 3:.1f} GB "
                                                       f"(stopped{where})")
            else:
                result = ProbeRun(shapes, False, error=first_line(detail), node=match.group(1) if match else "")
        except MemoryError:
            result = ProbeRun(shapes, False, error="out of memory")
        result.seconds = time.perf_counter() - started
        self.runs.append(result)
        self.cache[key] = result
        return result

    def constant_operand(self, node_name: str) -> tuple[str, list[int]] | None:
        """(op, values) of the constant shape operand of a failing node (e.g. a baked Reshape target)."""
        node = self.nodes.get(node_name)
        if node is None:
            return None
        position = _SHAPE_OPERANDS.get(node.op_type)
        candidates = [position] if position is not None else range(len(node.input))
        for index in candidates:
            value = self.constants.get(node.input[index]) if index < len(node.input) else None
            if value is not None and value.dtype.kind in "iu" and 0 < value.size <= 8:
                return node.op_type, [int(v) for v in value.reshape(-1)]
        return None

    def close(self) -> None:
        self.runner.close()


def _size(shapes: dict[str, Shape]) -> int:
    """A run's size, for predicting its time: the elements of its largest input."""
    return max((math.prod(shape) for shape in shapes.values()), default=1) or 1


def _key(shapes: dict[str, Shape]) -> tuple:
    return tuple(sorted((name, tuple(shape)) for name, shape in shapes.items()))


def first_line(text: str) -> str:
    """onnxruntime's reason without its prefixes and source locations: "Input shape:{128,1,256}, requested
    shape:{64,8,32}" is what the user needs from a Reshape failure."""
    text = text.strip().splitlines()[0] if text.strip() else text
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = text.split("Status Message: ", 1)[-1]
    text = re.sub(r"^/\S+:\d+ \S+\([^)]*\)\s*", "", text)
    text = re.sub(r"^[\w.]+ (==|!=|<=|>=|<|>) [\w.]+ was false\. ", "", text)
    return text[:300]


def failure_text(run: ProbeRun, prober: Prober) -> str:
    if run.node:
        node = prober.nodes.get(run.node)
        op = node.op_type if node is not None else "node"
        return f"fails in {op} '{run.node}'"
    if run.error.startswith(MEMORY_REFUSAL):
        return run.error[:200]
    return f"fails ({run.error[:120]})"


def _assignments(dims: list[DimSuggestion]):
    """Assignments of candidate indices in order of total (weighted) rank: the most typical first."""
    sizes = [len(d.candidates) for d in dims]
    weights = [_RANK_WEIGHT.get(d.kind, 1) for d in dims]
    limit = sum((s - 1) * w for s, w in zip(sizes, weights))
    for total in range(limit + 1):
        yield from _with_total(0, total, sizes, weights, [])


def _with_total(index, total, sizes, weights, prefix):
    if index == len(sizes):
        if total == 0:
            yield list(prefix)
        return
    for rank in range(sizes[index]):
        cost = rank * weights[index]
        if cost > total:
            break
        prefix.append(rank)
        yield from _with_total(index + 1, total - cost, sizes, weights, prefix)
        prefix.pop()


def point(suggestion: ShapeSuggestion, chosen: dict[str, int]) -> dict[str, Shape]:
    """Every input's shape with the variables at ``chosen`` (related dims computed, the rest at 1)."""
    return concrete_shapes(suggestion.inputs, chosen, suggestion.relations, suggestion.labels())



def probe_dims(model: LoadedModel, suggestion: ShapeSuggestion, open_dims: list[DimSuggestion], seed: int,
           deadline: float, cancel: CancelToken | None) -> None:
    fixed = {d.label: d.opt for d in suggestion.dims if d.resolved}
    values = {n: v.value for n, v in suggestion.values.items()}
    try:
        prober = Prober(model, values, seed, deadline, cancel)
    except WorkbenchError as exc:
        for dim in open_dims:
            dim.source = ShapeSource.CONVENTION
            dim.reason = f"typical {dim.kind.value} size ({dim.reason}){stride_text(dim)}; not checked: " \
                         f"onnxruntime cannot load the model"
        suggestion.note = f"No probe: {exc.message}"
        return
    suggestion.probed = True
    try:
        found, first_ok, failures = _search(prober, suggestion, open_dims, fixed)
        if found is None:
            found = first_ok
        if found is None:
            for dim in open_dims:
                dim.source = ShapeSource.UNRESOLVED
                tried = sorted({v for r in prober.runs for v in _dim_values(r, dim)})
                last = failures[-1] if failures else None
                dim.reason = f"nothing tried runs ({', '.join(map(str, tried[:8]))} tried" + \
                             (f"; {failure_text(last, prober)}: {last.error[:160]}" if last else "") + ")"
            return
        chosen, run = found
        for dim in open_dims:
            dim.opt = dim.min = dim.max = chosen[dim.label]
            dim.source = ShapeSource.PROBE
            dim.reason = f"{dim.reason}; {dim.opt} runs under onnxruntime" + \
                (" (outputs constant or empty at every size tried)" if run.degenerate else "") + stride_text(dim)
            failed_here = [f for f in failures if _dim_values(f, dim)]
            baked = _baked_reason(failed_here, prober, dim)
            if baked:
                dim.reason = f"{dim.opt} runs, {baked}"
        _ranges(prober, suggestion, open_dims, chosen)
        _corners(prober, suggestion, open_dims)
    finally:
        suggestion.probes = prober.runs
        prober.close()


def stride_text(dim: DimSuggestion) -> str:
    return f", a multiple of the network's stride {dim.multiple_of}" if dim.multiple_of > 1 and \
        dim.opt % dim.multiple_of == 0 else ""


def _dim_values(run: ProbeRun, dim: DimSuggestion) -> list[int]:
    return [run.shapes[name][axis] for name, axis in dim.uses if name in run.shapes]


def _baked_reason(failures: list[ProbeRun], prober: Prober, dim: DimSuggestion) -> str:
    for run in failures:
        operand = prober.constant_operand(run.node) if run.node else None
        if operand and dim.opt in operand[1]:
            value = _dim_values(run, dim)[0]
            return f"{value} {failure_text(run, prober)}, which has the constant shape {operand[1]}"
    return ""


_INTEGER = re.compile(r"\d+")


def _solve_from_errors(first: ProbeRun, second: ProbeRun, dim: DimSuggestion) -> list[int]:
    """Values of ``dim`` that error messages point at, from two failures in the same node that differ in
    this dim only. A number in the message that moves with the dim (``a = r·v + b``, e.g. a feature size
    of channels × collapsed height) must reach one that stays put (the weight's size): solve for ``v``.
    "Input W must have shape {2,192,448}. Actual:{2,192,96}" at H = 224 and {2,192,640} at H = 320
    point at H = 48."""
    if not first.node or first.node != second.node:
        return []
    a_values, b_values = _dim_values(first, dim), _dim_values(second, dim)
    if not a_values or a_values[0] == b_values[0]:
        return []
    others_same = all(first.shapes[name][axis] == second.shapes[name][axis]
                      for name in first.shapes for axis in range(len(first.shapes[name]))
                      if (name, axis) not in dim.uses)
    numbers_a = [int(n) for n in _INTEGER.findall(first.error)]
    numbers_b = [int(n) for n in _INTEGER.findall(second.error)]
    if not others_same or len(numbers_a) != len(numbers_b):
        return []
    v1, v2 = a_values[0], b_values[0]
    moving = [(x, y) for x, y in zip(numbers_a, numbers_b) if x != y]
    if not moving:
        return []
    x, y = moving[0]
    slope = (y - x) / (v2 - v1)
    if slope == 0:
        return []
    offset = x - slope * v1
    found = []
    for fixed in (x for x, y in zip(numbers_a, numbers_b) if x == y and x > 1):
        value = (fixed - offset) / slope
        if value > 1 and abs(value - round(value)) < 1e-9 and round(value) % dim.multiple_of == 0:
            found.append(int(round(value)))
    return found[::-1]  # the last number of a message is usually the expected one ("Actual: …")


def broadcast_sizes(run: ProbeRun) -> list[int]:
    """Sizes a broadcast failure names: "Attempting to broadcast an axis by a dimension other than 1. 77 by 128"
    says the model wants 77 where the probe gave 128 (a position table of 77 rows, a baked size)."""
    match = _BROADCAST.search(run.error)
    return [int(match.group(1)), int(match.group(2))] if match else []


def _search(prober: Prober, suggestion: ShapeSuggestion, open_dims: list[DimSuggestion], fixed: dict):
    """Best-first over candidate assignments; failing nodes with constant operands add candidates."""
    first_ok = None
    failures: list[ProbeRun] = []
    tried: set[tuple] = set()
    while not prober.out_of_time():
        added = False
        for ranks in _assignments(open_dims):
            if prober.out_of_time():
                break
            chosen = {**fixed, **{d.label: d.candidates[r] for d, r in zip(open_dims, ranks)}}
            key = tuple(sorted(chosen.items()))
            if key in tried:
                continue
            tried.add(key)
            run = prober.run(point(suggestion, chosen))
            if run.ok and not run.degenerate:
                return (chosen, run), first_ok, failures
            if run.ok:
                first_ok = first_ok or (chosen, run)
                continue
            operand = prober.constant_operand(run.node) if run.node else None
            wanted = broadcast_sizes(run)
            for dim in open_dims:
                if dim.kind is DimKind.BATCH:
                    continue
                hinted = list(operand[1]) if operand else []
                if dim.kind is not DimKind.SPATIAL:  # an image's broadcast names feature-map sizes, not its own
                    hinted += [v for v in wanted if v not in _dim_values(run, dim)]
                hinted += [v for other in failures for v in _solve_from_errors(other, run, dim)]
                for value in reversed([v for v in dict.fromkeys(hinted) if v > 1]):
                    if value in dim.candidates[:2]:
                        continue
                    if value in dim.candidates:
                        dim.candidates.remove(value)
                    dim.candidates.insert(1, value)  # right after the typical value: tried next
                    added = True
            failures.append(run)
            if added:
                break  # restart the enumeration with the new candidates first
        if not added:
            break
    return None, first_ok, failures


def _ranges(prober: Prober, suggestion: ShapeSuggestion, open_dims: list[DimSuggestion], chosen: dict) -> None:
    """min: the smallest ladder value below opt that still runs (bisection); max: a larger value that runs
    (at most the graph's bound), walking down when it fails or would not fit in memory. Batch-like dims stay at
    their value."""
    for dim in open_dims:
        if dim.kind is DimKind.BATCH:
            continue
        below = sorted({v for v in LADDERS[dim.kind] + tuple(dim.candidates)
                        if v < dim.opt and v % dim.multiple_of == 0})
        low_index, high_index = 0, len(below) - 1
        smallest, first_failure = dim.opt, None
        while low_index <= high_index and not prober.out_of_time():
            middle = (low_index + high_index) // 2
            run = prober.run(point(suggestion, {**chosen, dim.label: below[middle]}))
            if run.ok:
                smallest, high_index = below[middle], middle - 1
            else:
                first_failure, low_index = (below[middle], run), middle + 1
        dim.min = smallest
        if first_failure is not None and smallest != dim.opt:
            failed = f"{dim.label} = {first_failure[0]} {failure_text(first_failure[1], prober)}"
            dim.reason += f"; min {smallest}: {failed}"
        elif first_failure is not None:
            dim.reason += f"; smaller values fail ({dim.label} = {first_failure[0]} " \
                          f"{failure_text(first_failure[1], prober)})"
        above = sorted(v for v in set(LADDERS[dim.kind]) | set(dim.candidates)
                       if v > dim.opt and v % dim.multiple_of == 0 and (not dim.upper or v <= dim.upper))
        if dim.upper > dim.opt and dim.upper not in above:
            above.append(dim.upper)  # the graph's bound itself (a position table's rows) is the natural max
        # The graph's bound is the natural max (a position table's rows); else twice opt, from the ladder.
        target = dim.upper if dim.upper > dim.opt else \
            next((v for v in above if v >= 2 * dim.opt), above[-1] if above else None)
        if target is None:
            if dim.upper and dim.upper <= dim.opt:
                dim.reason += f"; max = opt: {dim.upper_reason}"
            continue
        if prober.out_of_time():
            dim.reason += f"; max = opt: {target} not probed, the probe's time budget ran out (the Profiles " \
                          "panel's check runs it)"
            continue
        walk_down = sorted((v for v in above if dim.opt < v < target), reverse=True)[:2]
        late = prober.overrun(point(suggestion, {**chosen, dim.label: target}))
        if late:  # the largest value between opt and the target whose run ends within the budget, if any
            fitting = [v for v in walk_down if not prober.overrun(point(suggestion, {**chosen, dim.label: v}))]
            if not fitting:
                dim.reason += f"; max = opt: {target} not probed: {late} (the Profiles panel's check runs it)"
                continue
            late = f"{target} not probed: {late}"
            target, walk_down = fitting[0], fitting[1:]
        run = prober.run(point(suggestion, {**chosen, dim.label: target}))
        # Walk down when the target fails or would not fit in memory: the largest value between opt and it.
        for smaller in walk_down:
            if run.ok or prober.out_of_time() or prober.overrun(point(suggestion, {**chosen, dim.label: smaller})):
                break
            target, run = smaller, prober.run(point(suggestion, {**chosen, dim.label: smaller}))
        if run.ok:
            dim.max = target
            if dim.upper and target == dim.upper:
                dim.reason += f"; max {target}: {dim.upper_reason}"
            elif late:
                dim.reason += f"; max {target}: {late}"
        else:
            dim.reason += f"; max = opt: {dim.label} = {target} {failure_text(run, prober)}"
            if smallest == dim.opt and first_failure is not None:
                dim.runs_only_at = True
                dim.node = run.node or first_failure[1].node
                operand = prober.constant_operand(dim.node) if dim.node else None
                failing = run if run.node else first_failure[1]
                dim.reason = f"{dim.label} = {target} and {dim.label} = {first_failure[0]} fail in " \
                             f"{prober.nodes[dim.node].op_type if dim.node in prober.nodes else 'node'} " \
                             f"'{dim.node}'" + (f", which has the constant shape {operand[1]}" if operand else
                                                f" ({failing.error[:160]})")



_CORNER_STEPS = (0.25, 0.5, 1.0)  # how far toward opt the dims move together when a corner fails


def _corners(prober: Prober, suggestion: ShapeSuggestion, open_dims: list[DimSuggestion]) -> None:
    """Each dim's min and max were probed with the others at opt; a profile's corners put them all there at once
    (RT-DETR runs at 32 × 640 and 640 × 32, not at 32 × 32: its TopK needs 300 tokens). Run both corners; when
    one fails, move every ranged dim toward opt together until it runs, and say so."""
    ranged = [d for d in open_dims if d.kind is not DimKind.BATCH and (d.min, d.max) != (d.opt, d.opt)]
    if len(ranged) < 2:
        return
    values = {d.label: d.opt for d in suggestion.dims if d.resolved}
    for which in ("min", "max"):
        corner = {**values, **{d.label: getattr(d, which) for d in ranged}}
        run = prober.run(point(suggestion, corner))
        if run.ok:
            continue
        failure = failure_text(run, prober)
        # A corner that failed is never kept, even when the probe's time is up: then the dims go back to opt
        # (known to run) without the steps in between.
        for step in _CORNER_STEPS if not prober.out_of_time() else (1.0,):
            moved = {d.label: _toward(getattr(d, which), d.opt, step, d.multiple_of) for d in ranged}
            if step == 1.0 or prober.run(point(suggestion, {**values, **moved})).ok:
                break
        for dim in ranged:
            setattr(dim, which, moved[dim.label])
            dim.reason += f"; {which} {moved[dim.label]}: with every dim at its {which} together the model " \
                          f"{failure}"


def _toward(value: int, opt: int, step: float, multiple: int) -> int:
    moved = value + (opt - value) * step
    if multiple > 1:
        moved = round(moved / multiple) * multiple
    return int(min(max(moved, min(value, opt)), max(value, opt)))
