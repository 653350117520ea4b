"""Precision bisect on a ~100-node and a ~1,000-node model: onnxruntime runs and seconds.

Each model is a chain of harmless float ops (Mul by 0.999, Add 0.001) with one precision-losing pair
in the middle ((x + 1000.4) - 1000.0: 1000.4 rounds to 1000.5 in float16), so no tensor overflows
and the bisect has to delta-debug the whole graph (its slow phase). The baseline, measured in the
same run, is one accuracy check of the FP16 model (convert + one onnxruntime session + run); the
bisect's cost is printed as a ratio to it.

Run: ``.venv/bin/python benchmarks/bench_precision.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from onnx import helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.onnx_factory import make_model, tensor  # noqa: E402
from workbench.core.compare.metrics import Tolerances  # noqa: E402
from workbench.core.model.loading import LoadedModel  # noqa: E402
from workbench.core.precision.bisect import bisect_keep_set  # noqa: E402
from workbench.core.precision.conversion import (FP16_ATOL, FP16_RTOL, check_accuracy, convert_model,  # noqa: E402
                                                 reference_values)

SIZES = (100, 1000)
WIDTH = 16


def chain_model(nodes: int) -> LoadedModel:
    inits = [numpy_helper.from_array(np.full((1, WIDTH), value, np.float32), name) for name, value in
             (("scale", 0.999), ("shift", 0.001), ("offset", 1000.4), ("back", 1000.0))]
    graph_nodes, current = [], "x"
    for index in range(nodes - 2):
        op, constant = ("Mul", "scale") if index % 2 else ("Add", "shift")
        graph_nodes.append(helper.make_node(op, [current, constant], [f"t{index}"], name=f"n{index}"))
        current = f"t{index}"
        if index == nodes // 2:
            graph_nodes += [helper.make_node("Add", [current, "offset"], ["a"], name="add_offset"),
                            helper.make_node("Sub", ["a", "back"], ["s"], name="remove_offset")]
            current = "s"
    graph_nodes.append(helper.make_node("Identity", [current], ["y"], name="out"))
    return LoadedModel.from_proto(make_model(graph_nodes, [tensor("x", [1, WIDTH])], [tensor("y", [1, WIDTH])], inits))


def main() -> None:
    tolerances = Tolerances(FP16_ATOL, FP16_RTOL)
    feeds = {"x": np.random.default_rng(0).random((1, WIDTH), dtype=np.float32)}
    print(f"{'nodes':>6} {'one check s':>12} {'bisect s':>9} {'runs':>5} {'ratio':>7}  kept")
    for size in SIZES:
        model = chain_model(size)
        expected = reference_values(model, feeds)
        started = time.perf_counter()
        check_accuracy(model, convert_model(model), feeds, tolerances, expected)
        one_check = time.perf_counter() - started
        started = time.perf_counter()
        outcome = bisect_keep_set(model, feeds, tolerances)
        seconds = time.perf_counter() - started
        print(f"{len(model.proto.graph.node):>6} {one_check:>12.3f} {seconds:>9.2f} {outcome.runs:>5} "
              f"{seconds / one_check:>6.1f}×  {', '.join(outcome.keep.to_list())}")


if __name__ == "__main__":
    main()
