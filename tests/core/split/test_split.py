"""Split execution on real exports: the real TensorRT-RTX parser and builder pick the parts, onnxruntime
runs the chain and the original, and the catalogue says what the architecture implies."""

from __future__ import annotations

import onnx
import pytest

from tests.corpus.catalog import CATALOG
from tests.conftest import CORPUS
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import load_model
from workbench.core.split.partition import ONNXRUNTIME, TENSORRT
from workbench.core.split.split import ALL_ON_TENSORRT, SPLIT, split_model


@pytest.fixture(scope="module")
def detector(tmp_path_factory, backend):
    folder = tmp_path_factory.mktemp("detector_split")
    return split_model(load_model(CORPUS / "detector_nms_ts.onnx"), output_dir=folder, backend=backend), folder


@pytest.fixture(scope="module")
def middle(backend):
    return split_model(load_model(CORPUS / "mid_nonzero_ts.onnx"), backend=backend)


def _ops(part, model) -> set[str]:
    by_name = {n.name: n.op_type for n in model.proto.graph.node}
    return {by_name[name] for name in part.nodes}


def test_detector_backbone_goes_to_tensorrt_and_post_processing_to_onnxruntime(detector):
    result, folder = detector
    facts = CATALOG["detector_nms_ts.onnx"]["facts"]
    assert result.status == SPLIT and [p.runtime for p in result.parts] == [TENSORRT, ONNXRUNTIME]
    trt_part, rest = result.parts
    trt_ops = _ops(trt_part, result.model)
    assert not trt_ops & set(facts["post_processing"]) - {"Gather"}  # NonZero, NMS and TopK run under onnxruntime
    raw_producers = {n.name for n in result.model.proto.graph.node if set(n.output) & set(facts["raw_outputs"])}
    assert raw_producers <= set(trt_part.nodes)
    assert "NonZero" in _ops(rest, result.model) and "parser rejected NonZero" in rest.reasons["/NonZero"]
    # The builder accepted the TensorRT part with a realistic profile, and the engine was written.
    build = result.builds[0]
    assert build.succeeded and (folder / "trt_part.engine").stat().st_size > 0
    assert build.profiles[0].shapes["image"].opt[2] % 16 == 0 and build.profile_reasons  # the stride, with reasons
    assert result.matches and {c.name for c in result.comparison} == {"boxes", "scores", "labels"}


def test_boundaries_are_listed_with_names_dtypes_and_shapes(detector):
    result, _folder = detector
    trt_part, rest = result.parts
    assert [b.name for b in result.boundaries] == rest.inputs and set(rest.inputs) == set(trt_part.outputs)
    for boundary in result.boundaries:
        assert boundary.producer == 0 and boundary.consumers == [1]
        assert boundary.dtype in ("float32", "int64") and len(boundary.shape) == len(boundary.observed_shape)
    # Few tensors: boxes, scores and classes before the threshold, not the feature maps or masks.
    assert len(result.boundaries) <= 3


def test_every_part_is_a_valid_onnx_model(detector, middle):
    for result in (detector[0], middle):
        for part in result.parts:
            onnx.checker.check_model(part.model.proto, full_check=True)
            assert [i.name for i in part.model.proto.graph.input] == part.inputs


def test_an_unsupported_op_in_the_middle_gives_three_parts(middle):
    facts = CATALOG["mid_nonzero_ts.onnx"]["facts"]
    assert [p.runtime for p in middle.parts] == [TENSORRT, ONNXRUNTIME, TENSORRT]
    assert set(facts["head_after_unsupported"]) <= set(middle.parts[2].nodes)
    assert "/NonZero" in middle.parts[1].nodes and "NonZero" in middle.parts[1].reasons["/NonZero"]
    assert set(facts["raw_outputs"]) <= set(middle.parts[0].outputs)
    assert middle.builds_ok and len(middle.builds) == 2 and middle.matches and middle.succeeded
    # The NonZero's data-dependent result stays inside onnxruntime: every tensor handed over is static.
    assert middle.boundaries and all(b.static and b.to_dict()["static"] for b in middle.boundaries)


def test_the_part_limit_keeps_two_parts(backend):
    result = split_model(load_model(CORPUS / "mid_nonzero_ts.onnx"), max_parts=2, backend=backend)
    assert [p.runtime for p in result.parts] == [TENSORRT, ONNXRUNTIME] and result.matches
    assert any("limit of 2 parts" in why for why in result.parts[1].reasons.values())


def test_a_fully_supported_model_gives_one_part_and_says_so(backend):
    result = split_model(load_model(CORPUS / "classifier_ts.onnx"), backend=backend)
    assert result.status == ALL_ON_TENSORRT and len(result.parts) == 1 and not result.boundaries
    assert "one part, no split needed" in result.message and result.succeeded


def test_a_requested_boundary_is_used_as_given(backend):
    raw = CATALOG["detector_nms_ts.onnx"]["facts"]["raw_outputs"]
    result = split_model(load_model(CORPUS / "detector_nms_ts.onnx"), boundary=raw, backend=backend)
    # The TensorRT part computes exactly what the requested tensors need; whatever else the rest reads from
    # it (here the feature map, whose Shape the box decoding takes) is handed over too, and listed.
    assert set(raw) <= set(result.parts[0].outputs) == {b.name for b in result.boundaries}
    assert result.parts[0].nodes and result.builds_ok and result.matches


@pytest.mark.parametrize("tensors, message", [
    (["no_such_tensor"], "has no tensor named 'no_such_tensor'"),
    (["image"], "is a graph input or a constant"),
    (["/NonZero_output_0"], "needs /NonZero, which TensorRT refuses"),
])
def test_bad_boundary_requests_get_clear_errors(backend, tensors, message):
    with pytest.raises(WorkbenchError, match=message) as info:
        split_model(load_model(CORPUS / "detector_nms_ts.onnx"), boundary=tensors, backend=backend)
    assert info.value.hint


def test_fewer_than_two_parts_is_refused(backend):
    with pytest.raises(WorkbenchError, match="cannot hold a split"):
        split_model(load_model(CORPUS / "detector_nms_ts.onnx"), max_parts=1, backend=backend)


def test_an_unsupported_op_before_the_network_puts_onnxruntime_first(backend, tmp_path):
    """x is scaled by the share of its positive elements (NonZero) before two convs: onnxruntime computes the
    scale, TensorRT the convs; the TensorRT part gets its input from onnxruntime."""
    from onnx import TensorProto, helper

    from tests.onnx_factory import make_model, tensor, weights

    constants = [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
                 helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
                 helper.make_tensor("column", TensorProto.INT64, [], [1])]
    nodes = [helper.make_node("Greater", ["x", "zero"], ["positive"], name="threshold"),
             helper.make_node("NonZero", ["positive"], ["where"], name="nonzero"),
             helper.make_node("Shape", ["where"], ["where_shape"], name="shape"),
             helper.make_node("Gather", ["where_shape", "column"], ["count"], name="count", axis=0),
             helper.make_node("Cast", ["count"], ["count_f"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("Add", ["count_f", "one"], ["denominator"], name="add"),
             helper.make_node("Div", ["x", "denominator"], ["scaled"], name="scale"),
             helper.make_node("Conv", ["scaled", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
             helper.make_node("Conv", ["r1", "w2"], ["y"], name="conv2", pads=[1, 1, 1, 1])]
    model = make_model(nodes, [tensor("x", [1, 3, 16, 16])], [tensor("y", [1, 4, 16, 16])],
                       [*constants, weights("w1", [8, 3, 3, 3]), weights("w2", [4, 8, 3, 3], seed=1)])
    path = tmp_path / "scale_first.onnx"
    onnx.save(model, path)
    result = split_model(load_model(path), backend=backend)
    assert [(p.runtime, p.file) for p in result.parts] == [(ONNXRUNTIME, "rest.onnx"), (TENSORRT, "trt_part.onnx")]
    assert {"conv1", "conv2"} <= set(result.parts[1].nodes) and "nonzero" in result.parts[0].nodes
    assert result.builds_ok and result.matches and result.succeeded
