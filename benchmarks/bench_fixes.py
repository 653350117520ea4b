"""fold-constants on a ResNet-50-sized model vs `polygraphy surgeon sanitize --fold-constants`.

Both run as command-line tools on the same file in the same run (interpreter start-up included
for both), best of ``--repeat`` runs; the ratio is ours / Polygraphy's (goal ≤ 1.0). The model has
ResNet-50's layer structure and weight count (~25.5 M parameters), with what exporters leave to fold:
every conv weight is scaled by an un-folded BatchNorm factor (Mul of two constants) and the head
flattens through Shape → Gather → Concat → Reshape.

    .venv/bin/python benchmarks/bench_fixes.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (blocks, mid channels, out channels, first stride) for ResNet-50's four stages.
STAGES = [(3, 64, 256, 1), (4, 128, 512, 2), (6, 256, 1024, 2), (3, 512, 2048, 2)]


def resnet50_like() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    nodes, inits = [], []

    def conv(x, cin, cout, k, stride, name, relu=True):
        raw, scale = f"{name}.w_raw", f"{name}.bn_scale"
        inits.append(numpy_helper.from_array((rng.standard_normal((cout, cin, k, k)) * 0.05).astype(np.float32), raw))
        inits.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, (cout, 1, 1, 1)).astype(np.float32), scale))
        inits.append(numpy_helper.from_array(np.zeros(cout, np.float32), f"{name}.b"))
        nodes.append(helper.make_node("Mul", [raw, scale], [f"{name}.w"], name=f"{name}/fold_bn"))
        nodes.append(helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [f"{name}.out"], name=name,
                                      kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4))
        if not relu:
            return f"{name}.out"
        nodes.append(helper.make_node("Relu", [f"{name}.out"], [f"{name}.relu"], name=f"{name}/relu"))
        return f"{name}.relu"

    x = conv("input", 3, 64, 7, 2, "stem")
    nodes.append(helper.make_node("MaxPool", [x], ["pool"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                                  pads=[1, 1, 1, 1]))
    x, cin = "pool", 64
    for s, (blocks, mid, cout, stride) in enumerate(STAGES):
        for b in range(blocks):
            name, step = f"s{s}b{b}", stride if b == 0 else 1
            y = conv(x, cin, mid, 1, 1, f"{name}.c1")
            y = conv(y, mid, mid, 3, step, f"{name}.c2")
            y = conv(y, mid, cout, 1, 1, f"{name}.c3", relu=False)
            skip = conv(x, cin, cout, 1, step, f"{name}.down", relu=False) if b == 0 else x
            nodes.append(helper.make_node("Add", [y, skip], [f"{name}.sum"], name=f"{name}/add"))
            nodes.append(helper.make_node("Relu", [f"{name}.sum"], [f"{name}.out"], name=f"{name}/relu"))
            x, cin = f"{name}.out", cout
    inits += [numpy_helper.from_array(np.array([0], np.int64), "gather0"),
              numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
              numpy_helper.from_array((rng.standard_normal((2048, 1000)) * 0.01).astype(np.float32), "fc.w"),
              numpy_helper.from_array(np.zeros(1000, np.float32), "fc.b")]
    nodes += [helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
              helper.make_node("Shape", ["gap"], ["gap_shape"], name="head/shape"),
              helper.make_node("Gather", ["gap_shape", "gather0"], ["batch"], name="head/batch", axis=0),
              helper.make_node("Concat", ["batch", "minus1"], ["flat_shape"], name="head/flat_shape", axis=0),
              helper.make_node("Reshape", ["gap", "flat_shape"], ["flat"], name="head/flatten"),
              helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc")]
    graph = helper.make_graph(nodes, "resnet50_like", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                     [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    return model


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source = folder / "resnet50_like.onnx"
        onnx.save_model(resnet50_like(), source)
        model = onnx.load(source)
        params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
        print(f"model: {len(model.graph.node)} nodes, {params / 1e6:.1f} M parameters, "
              f"{source.stat().st_size / 1e6:.0f} MB")
        ours_cmd = [sys.executable, str(ROOT / "main.py"), "fix", str(source), "--apply", "fold-constants",
                    "-o", str(folder / "ours.onnx"), "--no-parity"]
        theirs_cmd = [str(bin_dir / "polygraphy"), "surgeon", "sanitize", str(source), "--fold-constants",
                      "-o", str(folder / "polygraphy.onnx")]
        ours = min(timed(ours_cmd) for _ in range(args.repeat))
        theirs = min(timed(theirs_cmd) for _ in range(args.repeat))
        ours_nodes = len(onnx.load(folder / "ours.onnx", load_external_data=False).graph.node)
        theirs_nodes = len(onnx.load(folder / "polygraphy.onnx", load_external_data=False).graph.node)
    print(f"trt-workbench fix --apply fold-constants : {ours:6.2f} s  → {ours_nodes} nodes")
    print(f"polygraphy surgeon sanitize --fold-constants: {theirs:6.2f} s  → {theirs_nodes} nodes")
    print(f"ratio (ours / polygraphy, best of {args.repeat}): {ours / theirs:.2f}  (goal ≤ 1.0)")


if __name__ == "__main__":
    main()
