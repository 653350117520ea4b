"""Candidates: checked sub-models of the original, named by the top-level nodes they keep.

The cut itself is the split's (``split.parts.cut_model``): tensors the kept nodes read from removed ones
become graph inputs, tensors they hand to removed nodes become outputs, Constants they read come along. Every
boundary input is typed at the model's realistic shapes (shape inference with the shape service's opt
shapes; where it cannot tell, the shape the tensor had when the original ran under onnxruntime), so the
candidate is static wherever the original's own inputs are not. A candidate that fails ``onnx.checker``
with strict shape inference is not tried.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import onnx
from onnx import helper

from workbench.core.reduce.oracle import Candidate
from workbench.core.split.partition import _reads, is_free
from workbench.core.split.parts import cut_model, known_types

PRODUCER = "trt-workbench reduce"


def is_static(info: onnx.ValueInfoProto | None) -> bool:
    if info is None:
        return False
    tensor = info.type.tensor_type
    return tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim)


def realistic_types(proto: onnx.ModelProto, shapes: dict[str, tuple[int, ...]],
                    observed: dict[str, np.ndarray]) -> dict[str, onnx.ValueInfoProto]:
    """Type of every tensor with the inputs at ``shapes``: shape inference's where it is static, else the
    observed value's (dtype and shape), else shape inference's with its unknown dims."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    for value in fixed.graph.input:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            for dim, size in zip(dims, shapes[value.name]):
                dim.Clear()
                dim.dim_value = int(size)
    types = known_types(fixed)
    for name, array in observed.items():
        if name not in types or not is_static(types[name]):
            types[name] = helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype),
                                                        list(array.shape))
    # The original's own inputs keep their declared (possibly dynamic) shapes: profiles cover them.
    types.update({v.name: v for v in proto.graph.input})
    return types


class CandidateMaker:
    """Makes the candidate for a set of kept nodes; the same cut of the model under test, for comparisons."""

    def __init__(self, proto: onnx.ModelProto, types: dict[str, onnx.ValueInfoProto],
                 observed: dict[str, np.ndarray], test_proto: onnx.ModelProto | None = None):
        self.proto = proto
        self.types = types
        self.observed = observed
        self.test_proto = test_proto
        nodes = list(proto.graph.node)
        self.active = [i for i, node in enumerate(nodes) if not is_free(node)]
        self.model_inputs = {v.name for v in proto.graph.input}
        self._producer = {o: i for i in self.active for o in nodes[i].output if o}
        self.invalid = 0  # cuts that were not valid models

    def ancestors(self, index: int) -> set[int]:
        """``index`` and every active node it depends on."""
        nodes = self.proto.graph.node
        found, stack = set(), [index]
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found.add(current)
            stack.extend(self._producer[n] for n in _reads(nodes[current]) if n in self._producer)
        return found

    def make(self, kept: Iterable[int]) -> Candidate | None:
        members = sorted(set(kept))
        if not members:
            return None
        try:
            proto, inputs, outputs = cut_model(self.proto, members, self.types, self.observed,
                                               self.proto.graph.name or "reduced", PRODUCER)
            if not outputs:
                raise ValueError("nothing leaves the kept nodes")
            onnx.checker.check_model(proto, full_check=True)  # full_check: strict shape inference too
        except Exception:  # noqa: BLE001 - any reason the cut is not a valid model: the candidate is not tried
            self.invalid += 1
            return None
        test = None
        if self.test_proto is not None:
            test, _inputs, _outputs = cut_model(self.test_proto, members, self.types, self.observed,
                                                self.proto.graph.name or "reduced", PRODUCER)
        feeds = {name: self.observed[name] for name in inputs if name in self.observed}
        return Candidate(frozenset(members), proto, inputs, outputs,
                         [n for n in inputs if n not in self.model_inputs], test, feeds)
