"""What checking a fix's result costs on a ResNet-50-sized model (~100 MB of weights).

Every fix's result is checked (onnx's full check and an onnxruntime session) on the weightless copy.
Measured in the same run, best of ``--repeat``: that check, the same two checks on the whole model
(the naive way), and applying set-input-shape (a cheap fix) with its check. Printed as ratios:
check / naive check, and check / the whole apply. The model is checked twice: with its weights as
initializers and as paddle2onnx writes them (every weight a Constant node).

    .venv/bin/python benchmarks/bench_fix_validation.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import onnx
import onnxruntime as ort
from onnx import helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.resnet import make_resnet50  # noqa: E402
from workbench.core.fixes.apply import apply_fix, parse_spec  # noqa: E402
from workbench.core.validation import validate_fixed_model  # noqa: E402
from workbench.core.model.loading import LoadedModel  # noqa: E402


def best(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def naive_check(proto: onnx.ModelProto) -> None:
    onnx.checker.check_model(proto, full_check=True)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def as_constant_nodes(proto: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    constants = [helper.make_node("Constant", [], [t.name], value=t) for t in copy.graph.initializer]
    nodes = constants + list(copy.graph.node)
    del copy.graph.initializer[:]
    del copy.graph.node[:]
    copy.graph.node.extend(nodes)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    resnet = make_resnet50()
    resnet.ir_version = 10
    for label, proto in (("initializers", resnet), ("Constant nodes", as_constant_nodes(resnet))):
        model = LoadedModel.from_proto(proto)
        print(f"{label}: {len(proto.graph.node)} nodes, {len(model.serialized) / 1e6:.0f} MB")
        ours = best(args.repeat, lambda proto=proto: validate_fixed_model(proto, "benchmark"))
        naive = best(args.repeat, lambda proto=proto: naive_check(proto))
        step = parse_spec("set-input-shape:input=input,shape=1x3x224x224")
        applied = best(args.repeat, lambda model=model, step=step: apply_fix(model, step))
        print(f"  check on the weightless copy : {ours:6.3f} s")
        print(f"  same checks on the whole model: {naive:6.3f} s   ratio {ours / naive:.2f}")
        print(f"  set-input-shape with its check: {applied:6.3f} s   check is {ours / applied:.0%} of it")


if __name__ == "__main__":
    main()
