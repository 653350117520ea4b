"""Generate the bundled sample models.

Run ``python resources/make_samples.py`` to rewrite the ``.onnx`` files in ``workbench/resources/samples/``,
where the package carries them; the tests regenerate them in a temporary folder and check the bytes match, so the
committed files always come from this script. Every sample shows one problem engineers hit when
they bring a model to TensorRT, and is kept small (well under 2 MB).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# onnxruntime refuses models newer than the IR version it was built for; generated models
# declare an IR version every supported onnxruntime accepts.
IR_VERSION = 10
OPSET = 17
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "workbench" / "resources" / "samples"


def _weights(rng: np.random.Generator, name: str, shape: tuple[int, ...], scale: float = 0.1):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def _const(name: str, values, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def _model(graph: onnx.GraphProto, opset: int = OPSET, domains: dict[str, int] | None = None):
    imports = [helper.make_opsetid("", opset)]
    imports += [helper.make_opsetid(domain, version) for domain, version in (domains or {}).items()]
    model = helper.make_model(graph, opset_imports=imports, producer_name="trt-workbench-samples")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def clean_cnn() -> onnx.ModelProto:
    """A small classifier with a dynamic batch: nothing wrong except that it needs a profile."""
    rng = np.random.default_rng(0)
    inits = [
        _weights(rng, "conv1.weight", (16, 3, 3, 3)), _weights(rng, "conv1.bias", (16,)),
        _weights(rng, "conv2.weight", (32, 16, 3, 3)), _weights(rng, "conv2.bias", (32,)),
        _weights(rng, "fc.weight", (10, 32)), _weights(rng, "fc.bias", (10,)),
    ]
    nodes = [
        helper.make_node("Conv", ["images", "conv1.weight", "conv1.bias"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "clean_cnn",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        inits,
    )
    return _model(graph)


def uint8_resize() -> onnx.ModelProto:
    """A uint8 image input, normalised in-graph, upsampled by an ``asymmetric`` nearest Resize."""
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(np.array(255.0, dtype=np.float32), "scale255"),
        numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "resize.scales"),
        _weights(rng, "conv.weight", (8, 3, 3, 3)), _weights(rng, "conv.bias", (8,)),
    ]
    nodes = [
        helper.make_node("Cast", ["image"], ["image_f"], name="to_float", to=TensorProto.FLOAT),
        helper.make_node("Div", ["image_f", "scale255"], ["normed"], name="normalize"),
        helper.make_node("Resize", ["normed", "", "resize.scales"], ["upsampled"], name="upsample",
                         mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="ceil"),
        helper.make_node("Conv", ["upsampled", "conv.weight", "conv.bias"], ["features"], name="conv",
                         pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes, "uint8_resize",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 8, 64, 64])],
        inits,
    )
    return _model(graph)


def groupnorm() -> onnx.ModelProto:
    """PyTorch's GroupNorm export for opset < 18: Reshape → InstanceNormalization → Reshape → Mul → Add."""
    rng = np.random.default_rng(2)
    channels, groups = 32, 8
    inits = [
        _weights(rng, "conv.weight", (channels, 3, 3, 3)), _weights(rng, "conv.bias", (channels,)),
        _const("gn.group_shape", [0, groups, -1]),
        numpy_helper.from_array(np.ones(groups, np.float32), "gn.instance_scale"),
        numpy_helper.from_array(np.zeros(groups, np.float32), "gn.instance_bias"),
        numpy_helper.from_array((1 + 0.1 * rng.standard_normal((channels, 1, 1))).astype(np.float32), "gn.weight"),
        numpy_helper.from_array((0.1 * rng.standard_normal((channels, 1, 1))).astype(np.float32), "gn.bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv_out"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Shape", ["conv_out"], ["conv_shape"], name="gn/shape"),
        helper.make_node("Reshape", ["conv_out", "gn.group_shape"], ["grouped"], name="gn/reshape_in"),
        helper.make_node("InstanceNormalization", ["grouped", "gn.instance_scale", "gn.instance_bias"], ["normed"],
                         name="gn/instance_norm", epsilon=1e-5),
        helper.make_node("Reshape", ["normed", "conv_shape"], ["ungrouped"], name="gn/reshape_out"),
        helper.make_node("Mul", ["ungrouped", "gn.weight"], ["scaled"], name="gn/mul"),
        helper.make_node("Add", ["scaled", "gn.bias"], ["gn_out"], name="gn/add"),
        helper.make_node("Relu", ["gn_out"], ["output"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "groupnorm",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, channels, 32, 32])],
        inits,
    )
    return _model(graph)


def nms_detector() -> onnx.ModelProto:
    """A detector head: conv features → boxes and scores → NonMaxSuppression → Gather of the kept boxes."""
    rng = np.random.default_rng(3)
    anchors, classes = 64, 4
    inits = [
        _weights(rng, "head.weight", (4 + classes, 16, 1, 1)), _weights(rng, "head.bias", (4 + classes,)),
        _const("head.shape", [1, 4 + classes, anchors]),
        _const("split.sizes", [4, classes]),
        _const("nms.max_per_class", [20]),
        numpy_helper.from_array(np.array([0.5], np.float32), "nms.iou_threshold"),
        numpy_helper.from_array(np.array([0.05], np.float32), "nms.score_threshold"),
        _const("box_index.starts", [2]), _const("box_index.ends", [3]), _const("box_index.axes", [1]),
        _const("squeeze.axes", [1]),
    ]
    nodes = [
        helper.make_node("Conv", ["features", "head.weight", "head.bias"], ["head"], name="head_conv"),
        helper.make_node("Reshape", ["head", "head.shape"], ["head_flat"], name="head_reshape"),
        helper.make_node("Split", ["head_flat", "split.sizes"], ["box_raw", "score_raw"], name="split", axis=1),
        helper.make_node("Transpose", ["box_raw"], ["boxes"], name="boxes_transpose", perm=[0, 2, 1]),
        helper.make_node("Sigmoid", ["score_raw"], ["scores"], name="scores_sigmoid"),
        helper.make_node("NonMaxSuppression",
                         ["boxes", "scores", "nms.max_per_class", "nms.iou_threshold", "nms.score_threshold"],
                         ["selected"], name="nms", center_point_box=0),
        helper.make_node("Slice", ["selected", "box_index.starts", "box_index.ends", "box_index.axes"], ["box_idx"],
                         name="box_index"),
        helper.make_node("Squeeze", ["box_idx", "squeeze.axes"], ["box_idx_flat"], name="box_index_squeeze"),
        helper.make_node("Gather", ["boxes", "box_idx_flat"], ["kept_boxes"], name="gather_boxes", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "nms_detector",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 16, 8, 8])],
        [
            helper.make_tensor_value_info("selected", TensorProto.INT64, ["num_selected", 3]),
            helper.make_tensor_value_info("kept_boxes", TensorProto.FLOAT, [1, "num_selected", 4]),
        ],
        inits,
    )
    return _model(graph)


def if_scalar() -> onnx.ModelProto:
    """An ``If`` at the top level steered by a scalar input, as in matting models' ``downsample_ratio``.

    When ``downsample_ratio < 1`` the then-branch resizes the image by the ratio before its conv;
    otherwise the else-branch convolves at full resolution. Both branches are real subgraphs.
    TensorRT cannot resolve Resize scales that depend on a runtime scalar inside a conditional;
    freezing ``downsample_ratio`` and folding removes the If.
    """
    rng = np.random.default_rng(4)
    inits = [
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array([1.0, 1.0], np.float32), "unit_scales"),
        _const("unsqueeze_axes", [0]),
        _weights(rng, "stem.weight", (8, 3, 3, 3)), _weights(rng, "stem.bias", (8,)),
        _weights(rng, "down.weight", (8, 8, 3, 3)), _weights(rng, "full.weight", (8, 8, 3, 3)),
    ]
    down_branch = helper.make_graph(
        [helper.make_node("Unsqueeze", ["downsample_ratio", "unsqueeze_axes"], ["ratio_1d"], name="down/ratio"),
         helper.make_node("Concat", ["unit_scales", "ratio_1d", "ratio_1d"], ["down_scales"], name="down/scales",
                          axis=0),
         helper.make_node("Resize", ["stem_out", "", "down_scales"], ["down_small"], name="down/resize", mode="linear"),
         helper.make_node("Conv", ["down_small", "down.weight"], ["down_out"], name="down/conv", pads=[1, 1, 1, 1]),
         helper.make_node("GlobalAveragePool", ["down_out"], ["down_pooled"], name="down/pool"),
         helper.make_node("Flatten", ["down_pooled"], ["branch_out_down"], name="down/flatten")],
        "downsample_branch", [], [helper.make_tensor_value_info("branch_out_down", TensorProto.FLOAT, None)],
    )
    full_branch = helper.make_graph(
        [helper.make_node("Conv", ["stem_out", "full.weight"], ["full_out"], name="full/conv", pads=[1, 1, 1, 1]),
         helper.make_node("GlobalAveragePool", ["full_out"], ["full_pooled"], name="full/pool"),
         helper.make_node("Flatten", ["full_pooled"], ["branch_out_full"], name="full/flatten")],
        "full_resolution_branch", [], [helper.make_tensor_value_info("branch_out_full", TensorProto.FLOAT, None)],
    )
    nodes = [
        helper.make_node("Conv", ["image", "stem.weight", "stem.bias"], ["stem_out"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("Less", ["downsample_ratio", "one"], ["use_downsample"], name="check_ratio"),
        helper.make_node("If", ["use_downsample"], ["pooled"], name="choose_resolution",
                         then_branch=down_branch, else_branch=full_branch),
    ]
    graph = helper.make_graph(
        nodes, "if_scalar",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 32, 32]),
         helper.make_tensor_value_info("downsample_ratio", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, 8])],
        inits,
    )
    return _model(graph)


SAMPLES = {
    "clean_cnn.onnx": clean_cnn,
    "uint8_resize.onnx": uint8_resize,
    "groupnorm.onnx": groupnorm,
    "nms_detector.onnx": nms_detector,
    "if_scalar.onnx": if_scalar,
}


def write_samples(directory: Path = SAMPLES_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, make in SAMPLES.items():
        path = directory / filename
        path.write_bytes(make().SerializeToString())
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_samples(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES_DIR):
        print(f"wrote {written_path} ({written_path.stat().st_size} bytes)")
