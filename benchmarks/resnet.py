"""A ResNet-50-shaped ONNX model (~25.5 M parameters, ~100 MB of float32 weights) for benchmarks.

Batch-norm is folded into the convolutions, as exporters for inference usually leave it; with
``foldable=True`` it is left for constant folding instead (each conv weight is a Mul of the raw
weight and a BatchNorm scale) and the head flattens through Shape → Gather → Concat → Reshape, as
exporters often leave models. Weights are seeded random numbers: benchmarks measure handling, not accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

STAGES = [(64, 256, 3, 1), (128, 512, 4, 2), (256, 1024, 6, 2), (512, 2048, 3, 2)]


def make_resnet50(batch: int | str = "batch", seed: int = 0, foldable: bool = False) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def conv(x, out_ch, in_ch, k, stride, name, relu=True):
        w = (rng.standard_normal((out_ch, in_ch, k, k), dtype=np.float32) * np.sqrt(2.0 / (in_ch * k * k)))
        if foldable:
            scale = rng.uniform(0.5, 1.5, (out_ch, 1, 1, 1)).astype(np.float32)
            inits.append(numpy_helper.from_array(w.astype(np.float32), f"{name}.weight_raw"))
            inits.append(numpy_helper.from_array(scale, f"{name}.bn_scale"))
            nodes.append(helper.make_node("Mul", [f"{name}.weight_raw", f"{name}.bn_scale"], [f"{name}.weight"],
                                          name=f"{name}.fold_bn"))
        else:
            inits.append(numpy_helper.from_array(w.astype(np.float32), f"{name}.weight"))
        inits.append(numpy_helper.from_array(np.zeros(out_ch, np.float32), f"{name}.bias"))
        nodes.append(helper.make_node("Conv", [x, f"{name}.weight", f"{name}.bias"], [f"{name}.out"], name=name,
                                      kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4))
        if not relu:
            return f"{name}.out"
        nodes.append(helper.make_node("Relu", [f"{name}.out"], [f"{name}.relu"], name=f"{name}.relu"))
        return f"{name}.relu"

    x = conv("input", 64, 3, 7, 2, "stem")
    nodes.append(helper.make_node("MaxPool", [x], ["pool"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                                  pads=[1, 1, 1, 1]))
    x, in_ch = "pool", 64
    for stage, (mid, out, blocks, stride) in enumerate(STAGES, start=1):
        for block in range(blocks):
            name = f"layer{stage}.{block}"
            s = stride if block == 0 else 1
            y = conv(x, mid, in_ch, 1, 1, f"{name}.conv1")
            y = conv(y, mid, mid, 3, s, f"{name}.conv2")
            y = conv(y, out, mid, 1, 1, f"{name}.conv3", relu=False)
            shortcut = conv(x, out, in_ch, 1, s, f"{name}.downsample", relu=False) if block == 0 else x
            nodes.append(helper.make_node("Add", [y, shortcut], [f"{name}.add"], name=f"{name}.add"))
            nodes.append(helper.make_node("Relu", [f"{name}.add"], [f"{name}.out"], name=f"{name}.relu"))
            x, in_ch = f"{name}.out", out
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    if foldable:
        inits.append(numpy_helper.from_array(np.array([0], np.int64), "gather0"))
        inits.append(numpy_helper.from_array(np.array([-1], np.int64), "minus1"))
        nodes += [helper.make_node("Shape", ["gap"], ["gap_shape"], name="head/shape"),
                  helper.make_node("Gather", ["gap_shape", "gather0"], ["batch_dim"], name="head/batch", axis=0),
                  helper.make_node("Concat", ["batch_dim", "minus1"], ["flat_shape"], name="head/flat_shape", axis=0),
                  helper.make_node("Reshape", ["gap", "flat_shape"], ["flat"], name="head/flatten")]
    else:
        nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"))
    inits.append(numpy_helper.from_array((rng.standard_normal((1000, 2048)) * 0.01).astype(np.float32), "fc.weight"))
    inits.append(numpy_helper.from_array(np.zeros(1000, np.float32), "fc.bias"))
    nodes.append(helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(nodes, "resnet50", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                 [batch, 3, 224, 224])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 1000])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="trt-workbench-bench")
    model.ir_version = 10
    return model


def write_resnet50(path: Path, batch: int | str = "batch") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(make_resnet50(batch), str(path))
    return path
