"""Split execution on detection models, against the work it builds on.

Models:
- a detector with more than 3,000 nodes made at run time with onnx.helper: a deep residual CNN (a stem,
  BLOCKS blocks of Conv → folded BatchNorm (Mul, Add) → Relu → residual Add), box and class heads, then a
  detector's post-processing that TensorRT-RTX cannot take: box decoding, a score threshold (NonZero),
  Gathers, NonMaxSuppression and TopK;
- the corpus's torchvision exports, SSDlite320 (per-class post-processing: 30 NonZeros the parser rejects)
  and Faster R-CNN MobileNetV3-320-FPN;
- any ONNX file given on the command line, e.g. torchvision's SSDlite at its defaults (91 classes, full width:
  2,556 nodes besides Constants, 180 NonZeros), exported as ``make_corpus_vision.make_ssdlite`` does with
  ``num_classes`` and ``width_mult`` left at their defaults (needs torch; 14 MB, not committed).

Prints, per model:
- one ``supports_model_v2`` call on the model (the baseline: a plain parse of the whole model);
- ``split_model``'s phases — TensorRT's parser analysis, realistic inputs, partitioning (stage assignment, the
  parser's check of each TensorRT part, the original's run for its outputs and the boundary values, parts as
  checked ONNX models, as many rounds as it takes), the TensorRT parts' builds, and the validation (chained
  run + comparison) — each as a ratio to the baseline, with the rounds;
and for the deep detector the chained run (the parts one after the other under onnxruntime, as on a machine
without a GPU) against running the original model under onnxruntime: median of RUNS runs each. Goal ≤ 1.1×.

Run: ``.venv/bin/python benchmarks/bench_split.py [MODEL.onnx …]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.core.runtime import load_backend  # noqa: E402
from workbench.core.runners import OnnxruntimeRunner  # noqa: E402
from workbench.core.compare.timing import time_runner  # noqa: E402
from workbench.core.model.loading import load_model  # noqa: E402
from workbench.core.split.chain import ChainedRunner  # noqa: E402
from workbench.core.split.split import SplitResult, split_model  # noqa: E402

BLOCKS = 600  # 5 nodes each: with stem, heads and post-processing about 3,030 nodes
WIDTH, CLASSES, SIZE, STRIDE = 8, 4, 128, 4
RUNS, REPEATS = 20, 3
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"
CORPUS_DETECTORS = ("ssdlite320_torchvision_ts.onnx", "faster_rcnn_torchvision_ts.onnx")


def deep_detector(blocks: int = BLOCKS) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    nodes, weights = [], []

    def weight(name: str, array: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv(x: str, name: str, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> str:
        w = weight(f"{name}.w", rng.normal(0, (2 / (cin * kernel * kernel)) ** 0.5, (cout, cin, kernel, kernel)))
        b = weight(f"{name}.b", np.zeros(cout))
        nodes.append(helper.make_node("Conv", [x, w, b], [f"{name}.out"], name=f"{name}/Conv",
                                      pads=[kernel // 2] * 4, strides=[stride, stride]))
        return f"{name}.out"

    def op(kind: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(kind, inputs, [f"{name}.out"], name=name, **attrs))
        return f"{name}.out"

    x = op("Relu", [conv("image", "stem1", 3, WIDTH, stride=2)], "stem1/Relu")
    x = op("Relu", [conv(x, "stem2", WIDTH, WIDTH, stride=2)], "stem2/Relu")
    for i in range(blocks):
        y = conv(x, f"block{i}", WIDTH, WIDTH)
        y = op("Mul", [y, weight(f"block{i}.scale", rng.uniform(0.2, 0.4, (1, WIDTH, 1, 1)))], f"block{i}/Mul")
        y = op("Add", [y, weight(f"block{i}.shift", rng.normal(0, 0.05, (1, WIDTH, 1, 1)))], f"block{i}/Add")
        y = op("Relu", [y], f"block{i}/Relu")
        x = op("Add", [x, y], f"block{i}/Residual")
    box = op("Transpose", [conv(x, "box_head", WIDTH, 4)], "box/Transpose", perm=[0, 2, 3, 1])
    weights.append(numpy_helper.from_array(np.array([-1, 4], dtype=np.int64), "box.shape"))
    box = op("Reshape", [box, "box.shape"], "box/Reshape")
    centers = np.stack(np.meshgrid(*[(np.arange(SIZE // STRIDE) + 0.5) * STRIDE] * 2), -1).reshape(-1, 2)
    boxes = op("Add", [op("Mul", [box, weight("box.scale", np.array([-4, -4, 4, 4]))], "box/Scale"),
                       weight("anchors", np.concatenate([centers, centers], 1))], "box/Decode")
    cls = op("Transpose", [op("Sigmoid", [conv(x, "cls_head", WIDTH, CLASSES)], "cls/Sigmoid")], "cls/Transpose",
             perm=[0, 2, 3, 1])
    weights.append(numpy_helper.from_array(np.array([-1, CLASSES], dtype=np.int64), "cls.shape"))
    cls = op("Reshape", [cls, "cls.shape"], "cls/Reshape")
    scores = op("ReduceMax", [cls], "cls/ReduceMax", axes=[1], keepdims=0)
    keep = op("NonZero", [op("Greater", [scores, weight("threshold", np.array(0.5))], "post/Greater")], "post/NonZero")
    weights.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat"))
    keep = op("Reshape", [keep, "flat"], "post/Flatten")
    kept_boxes = op("Gather", [boxes, keep], "post/GatherBoxes", axis=0)
    kept_scores = op("Gather", [scores, keep], "post/GatherScores", axis=0)
    weights.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"))
    nms_boxes = op("Unsqueeze", [kept_boxes, "axis0"], "post/BoxesBatch")
    nms_scores = op("Unsqueeze", [op("Unsqueeze", [kept_scores, "axis0"], "post/ScoresClass"), "axis0"],
                    "post/ScoresBatch")
    weights.append(numpy_helper.from_array(np.array([100], dtype=np.int64), "max_out"))
    weights.append(numpy_helper.from_array(np.array([0.5], dtype=np.float32), "iou"))
    selected = op("NonMaxSuppression", [nms_boxes, nms_scores, "max_out", "iou"], "post/NMS")
    weights.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "column"))
    index = op("Reshape", [op("Gather", [selected, "column"], "post/Column", axis=1), "flat"], "post/Index")
    nodes.append(helper.make_node("Gather", [kept_boxes, index], ["boxes"], name="post/Boxes", axis=0))
    nodes.append(helper.make_node("Gather", [kept_scores, index], ["scores"], name="post/Scores", axis=0))
    graph = helper.make_graph(nodes, "deep_detector",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["detections", 4]),
                               helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["detections"])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model


def supports_model_v2_once(backend, model) -> float:
    _builder, _network, parser = backend.create_builder_network(backend.logger(min_severity="error"))
    started = time.perf_counter()
    parser.supports_model_v2(model.serialized, model.parser_path)
    return time.perf_counter() - started


def median_run(runner, feeds: dict) -> float:
    return time_runner(runner, feeds, runs=RUNS, warmup=1).median_ms / 1000


def split_phases(backend, path: Path, repeats: int) -> SplitResult:
    """The baseline and the split's phases (best total of ``repeats`` splits) for one model."""
    model = load_model(path)
    active = sum(n.op_type != "Constant" for n in model.proto.graph.node)
    print(f"{path.name}: {len(model.proto.graph.node)} nodes ({active} besides Constants), "
          f"{backend.name} {backend.version}")
    baseline = min(supports_model_v2_once(backend, model) for _ in range(REPEATS))
    print(f"  one supports_model_v2 call (best of {REPEATS}): {baseline:.3f} s")
    result = None
    for _ in range(repeats):
        attempt = split_model(load_model(path), backend=backend)
        if result is None or attempt.seconds["total"] < result.seconds["total"]:
            result = attempt
    print(f"  split: {result.message}")
    for text in result.rounds:
        print(f"    round: {text[:160]}{'…' if len(text) > 160 else ''}")
    s = result.seconds
    for phase in ("parser", "shapes", "partition", "build", "validation", "total"):
        if phase in s:
            print(f"  {phase:22} {s[phase]:7.3f} s = {s[phase] / baseline:6.2f}× supports_model_v2")
    both = s["partition"] + s.get("validation", 0.0)
    print(f"  partition + validation {both:7.3f} s = {both / baseline:6.2f}× supports_model_v2")
    return result


def chained_overhead(model, result) -> None:
    feeds = {"image": np.random.default_rng(0).uniform(0, 1, (1, 3, SIZE, SIZE)).astype(np.float32)}
    original = OnnxruntimeRunner(model)
    chain = ChainedRunner(result.parts, [o.name for o in model.proto.graph.output])
    pairs = [(median_run(original, feeds), median_run(chain, feeds)) for _ in range(REPEATS)]
    for plain, chained in pairs:
        print(f"  run: original {plain * 1e3:.2f} ms, chained {chained * 1e3:.2f} ms = {chained / plain:.3f}×")
    ratio = statistics.median(c / p for p, c in pairs)
    print(f"chained-run overhead (median of {REPEATS} × {RUNS} runs): {ratio:.3f}× (goal ≤ 1.1×)")
    original.close()
    chain.close()


def main(paths: list[str]) -> None:
    backend = load_backend()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "deep_detector.onnx"
        onnx.save(deep_detector(), path)
        result = split_phases(backend, path, REPEATS)
        chained_overhead(load_model(path), result)
    for other in [CORPUS / name for name in CORPUS_DETECTORS] + [Path(p) for p in paths]:
        split_phases(backend, other, 1)  # each split builds its TensorRT parts: once is enough to see the phases


if __name__ == "__main__":
    main(sys.argv[1:])
