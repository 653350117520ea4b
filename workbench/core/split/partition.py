"""Which node runs where: TensorRT parts and onnxruntime parts of one graph, and the tensors between them.

Nodes TensorRT refuses (``blocked``: named by the parser or the builder) run under onnxruntime. Every
node gets a *stage*: stage 0 is TensorRT from the graph inputs, and a node moves one stage later each
time a path into it changes runtime, so even stages are TensorRT, odd ones onnxruntime, and a stage only
reads tensors of earlier stages (parts run in order). In a split, a TensorRT stage that does no real
compute (no Conv/MatMul/…) is not worth a handover and runs under onnxruntime (a threshold before a
NonZero at the start of the model, the decoding after it). Beyond
``max_parts`` the tail merges into one onnxruntime part.

The boundary is then narrowed greedily to few tensors: a node moves into the onnxruntime stage that reads
all its results when that hands over fewer tensors (a score threshold's mask, a Shape of the input) — or,
for light work on a tensor other nodes of its stage read too, no more (torchvision SSD's per-class Gathers
of the scores: the first hands the scores over, each next one a tensor fewer) — so a detector's boundary
ends at its raw boxes and scores before post-processing; and a light node right
after an onnxruntime stage joins it when that hands over no more (a count computed from NonZero's
data-dependent result leaves as one scalar). Tensors whose shape is not static count double, so ties go
to static boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx

from workbench.core.model.loading import iter_nodes

TENSORRT, ONNXRUNTIME = "tensorrt", "onnxruntime"
DEFAULT_MAX_PARTS = 3
# Ops that make a TensorRT part worth a handover: the network's real compute.
COMPUTE_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "LSTM", "GRU", "RNN", "Attention",
                         "QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger"})
_DYNAMIC_COST = 2  # a boundary tensor of unknown or data-dependent shape costs as much as two static ones


def node_label(node: onnx.NodeProto) -> str:
    return node.name or node.op_type


def _reads(node: onnx.NodeProto) -> list[str]:
    """Every tensor name ``node`` reads, including outer-scope names its If/Loop bodies read."""
    names = [n for n in node.input if n]
    for attr in node.attribute:
        for sub in list(attr.graphs) + ([attr.g] if attr.HasField("g") else []):
            names.extend(name for inner, _ in iter_nodes(sub) for name in inner.input if name)
    return names


def is_free(node: onnx.NodeProto) -> bool:
    """A node every part can carry its own copy of (a Constant)."""
    return node.op_type == "Constant" and not node.input


@dataclass
class Assignment:
    """Stage per top-level node index (free nodes excluded) and why nodes left TensorRT."""
    stage: dict[int, int]
    why: dict[int, str] = field(default_factory=dict)  # node index → the reason it runs under onnxruntime

    @property
    def stages(self) -> list[int]:
        return sorted(set(self.stage.values()))


class _Graph:
    """Readers and producers by tensor name over the top-level nodes (Constants are free)."""

    def __init__(self, graph: onnx.GraphProto, static: set[str] | None = None):
        self.nodes = list(graph.node)
        self.free_tensors = {t.name for t in graph.initializer} | {i.name for i in graph.input} | \
            {o for n in self.nodes if is_free(n) for o in n.output}
        self.outputs = {o.name for o in graph.output}
        self.static = static if static is not None else set()
        self.active = [i for i, n in enumerate(self.nodes) if not is_free(n)]
        self.producer: dict[str, int] = {o: i for i in self.active for o in self.nodes[i].output if o}
        self.reads = {index: _reads(self.nodes[index]) for index in self.active}  # walked once: bodies can be large
        self.consumers: dict[str, list[int]] = {}
        for index in self.active:
            for name in self.reads[index]:
                self.consumers.setdefault(name, []).append(index)

    def producers_of(self, index: int) -> list[int]:
        return [self.producer[n] for n in self.reads[index] if n in self.producer]

    def boundary(self, stage: dict[int, int]) -> list[str]:
        """Tensors some stage produces and a later stage reads, plus model outputs, in node order."""
        return [name for index in self.active for name in self.nodes[index].output
                if name and (name in self.outputs
                             or any(stage[r] != stage[index] for r in self.consumers.get(name, [])))]

    def _tensor_cost(self, name: str, stage: dict[int, int]) -> int:
        """What ``name`` adds to the boundary's cost: its weight when a stage other than its producer's reads it
        (a model output costs nothing: it leaves the graph anyway)."""
        if name in self.outputs or name not in self.producer:
            return 0
        here = stage[self.producer[name]]
        if any(stage[r] != here for r in self.consumers.get(name, ())):
            return 1 if name in self.static else _DYNAMIC_COST
        return 0

    def cost_around(self, index: int, stage: dict[int, int]) -> int:
        """The share of the boundary's cost that moving node ``index`` can change (its results and the tensors it
        reads): the difference of two calls is the change of the whole cost, without a walk over the graph."""
        names = {o for o in self.nodes[index].output if o} | set(self.reads[index])
        return sum(self._tensor_cost(name, stage) for name in names)


def _first_stages(g: _Graph, refused: set[int]) -> dict[int, int]:
    stage: dict[int, int] = {}
    for index in g.active:  # ONNX graphs are topologically sorted
        low = max((stage[p] for p in g.producers_of(index)), default=0)
        wants_odd = index in refused
        stage[index] = low if (low % 2 == 1) == wants_odd else low + 1
    return stage


def assign_stages(graph: onnx.GraphProto, blocked: dict[str, str], max_parts: int = DEFAULT_MAX_PARTS,
                  static: set[str] | None = None) -> Assignment:
    """Stages for ``graph``'s top-level nodes; ``blocked`` maps node names TensorRT refuses to the reason.

    ``static``: tensor names whose shape is known to be static (preferred at the boundary).
    """
    g = _Graph(graph, static)
    why = {i: blocked.get(g.nodes[i].name) or blocked[node_label(g.nodes[i])] for i in g.active
           if g.nodes[i].name in blocked or node_label(g.nodes[i]) in blocked}
    refused = set(why)
    while True:
        stage = _first_stages(g, refused)
        split = max(stage.values(), default=0) > 0  # a model TensorRT takes whole stays one part
        idle = [s for s in set(stage.values()) if split and s % 2 == 0
                and not any(g.nodes[i].op_type in COMPUTE_OPS for i, st in stage.items() if st == s)]
        if not idle:
            break
        for index, st in stage.items():
            if st in idle:
                refused.add(index)
                why.setdefault(index, "does no compute worth a TensorRT part of its own (no convolution or "
                                          "matrix product) next to a part onnxruntime runs")
    last = max(stage.values(), default=0)
    if last >= max_parts:
        cap = max_parts - 1 if (max_parts - 1) % 2 == 1 else max_parts - 2
        for index, st in stage.items():
            if st > cap:
                stage[index] = cap
                if st % 2 == 0:
                    why.setdefault(index, f"beyond the limit of {max_parts} parts: runs with the last "
                                          "onnxruntime part")
    if max(stage.values(), default=0) > 0:
        _narrow(g, stage, why)
    return Assignment(stage, why)


def _narrow(g: _Graph, stage: dict[int, int], why: dict[int, str]) -> None:
    """Greedy moves that hand fewer (or, after an onnxruntime stage, no more) tensors over; see the module doc.

    A move only takes a node from a TensorRT stage to an onnxruntime one, so each node moves at most once and
    the passes end; each move is judged by the cost around the node alone (``cost_around``).
    """
    changed = True
    while changed:
        changed = False
        for index in reversed(g.active):
            here = stage[index]
            if here % 2 == 1:
                continue
            outputs = g.nodes[index].output
            readers = {stage[r] for o in outputs for r in g.consumers.get(o, [])}
            producers = {stage[p] for p in g.producers_of(index)}
            if len(readers) == 1 and min(readers) % 2 == 1 and not any(o in g.outputs for o in outputs):
                # into the part that reads it: when that hands fewer tensors over, or no more for light work on
                # a tensor other nodes here read too (per-class Gathers of the scores: the first one moved hands
                # the scores over, each next one a tensor fewer)
                target = min(readers)
                strict = g.nodes[index].op_type in COMPUTE_OPS or not _shares_an_input(g, stage, index)
                reason = "only the onnxruntime part reads its result, and computing it there hands {} tensors over"
            elif here > 0 and producers and max(producers) == here - 1 and g.nodes[index].op_type not in COMPUTE_OPS:
                # back into the part it follows: when that hands no more tensors over
                target, strict = here - 1, False
                reason = "light work on the onnxruntime part's results: computing it there hands {} tensors over"
            else:
                continue
            if readers and min(readers) < target:
                continue
            before = g.cost_around(index, stage)
            stage[index] = target
            change = g.cost_around(index, stage) - before
            if change < 0 or (change == 0 and not strict):
                why.setdefault(index, reason.format("fewer" if change < 0 else "no more"))
                changed = True
            else:
                stage[index] = here


def _shares_an_input(g: _Graph, stage: dict[int, int], index: int) -> bool:
    """Whether node ``index`` reads a tensor of its own stage that another node of that stage reads too."""
    here = stage[index]
    return any(name in g.producer and stage[g.producer[name]] == here
               and any(r != index and stage[r] == here for r in g.consumers.get(name, ()))
               for name in g.reads[index])


def supported_boundary(graph: onnx.GraphProto, blocked: set[str]) -> list[str]:
    """Tensors at which the part of the graph TensorRT takes from the inputs hands over to the rest.

    ``blocked`` names top-level nodes TensorRT refuses; everything downstream of them goes with them, and
    the cut is narrowed to few tensors (the raw tensors before post-processing, e.g. boxes and scores).
    """
    assignment = assign_stages(graph, {name: "refused by TensorRT" for name in blocked}, max_parts=2)
    if not any(st > 0 for st in assignment.stage.values()):
        return []
    g = _Graph(graph)
    first = {i: 0 if st == 0 else 1 for i, st in assignment.stage.items()}
    return [name for name in g.boundary(first) if g.producer.get(name) is not None and first[g.producer[name]] == 0]
