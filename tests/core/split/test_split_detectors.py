"""Split of torchvision's real detection exports (SSDlite320, Faster R-CNN MobileNetV3-320-FPN): the real
TensorRT-RTX parser and builder decide, every TensorRT part parses and builds (one build per part, the split's
own), and the chained parts give the detections onnxruntime gives for the whole model."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.conftest import CORPUS
from tests.corpus.catalog import CATALOG
from workbench.core.analysis.support import parser_rejections
from workbench.core.model.loading import load_model
from workbench.core.split.bounds import DimBounds
from workbench.core.split.chain import ChainedRunner
from workbench.core.split.partition import ONNXRUNTIME, TENSORRT
from workbench.core.split.parts import known_types
from workbench.core.split.split import ASSUMED_DATA_HEADROOM, SPLIT, split_model

SSDLITE, FASTER_RCNN = "ssdlite320_torchvision_ts.onnx", "faster_rcnn_torchvision_ts.onnx"


@pytest.fixture(scope="module")
def splits(tmp_path_factory, backend):
    """Each detector split once with engines written (module scope: one build per TensorRT part)."""
    results = {}
    for name, max_parts in ((SSDLITE, 3), (FASTER_RCNN, 3), (FASTER_RCNN, 5)):
        folder = tmp_path_factory.mktemp(name.split("_")[0])
        results[name, max_parts] = split_model(load_model(CORPUS / name), output_dir=folder, max_parts=max_parts,
                                               backend=backend)
    return results


def _ops(result, part) -> set[str]:
    by_name = {n.name: n.op_type for n in result.model.proto.graph.node}
    return {by_name[name] for name in part.nodes}


def _whole_and_chained(result, seed: int) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """The whole model under onnxruntime and the chained parts (TensorRT parts as their ONNX: no GPU here) on an
    image the split did not validate with."""
    image = np.random.default_rng(seed).uniform(0, 1, (3, 320, 320)).astype(np.float32)
    session = ort.InferenceSession(str(result.model.path), providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs()]
    chain = ChainedRunner(result.parts, outputs)
    try:
        chained = chain.run({"images": image})
    finally:
        chain.close()
    return session.run(None, {"images": image}), chained


@pytest.mark.parametrize("key", [(SSDLITE, 3), (FASTER_RCNN, 3), (FASTER_RCNN, 5)])
def test_every_tensorrt_part_parses_and_builds_and_the_chain_matches(splits, backend, key):
    result = splits[key]
    assert result.status == SPLIT and result.succeeded, (result.message, result.rounds)
    trt_parts = [p for p in result.parts if p.runtime == TENSORRT]
    assert trt_parts and len(result.builds) == len(trt_parts)
    for part, build in zip(trt_parts, result.builds):
        problems, _shape_tensors = parser_rejections(part.model, backend)
        assert not problems, [p.message for p in problems]
        assert build.succeeded and build.engine_path and "NonZero" not in _ops(result, part)
    assert result.matches and {c.name for c in result.comparison} == {"boxes", "scores", "labels"}
    whole, chained = _whole_and_chained(result, seed=7)
    names = [o.name for o in result.model.proto.graph.output]
    assert whole[names.index("boxes")].shape[0] > 0  # random weights still detect: the comparison is not vacuous
    for name, expected in zip(names, whole):
        np.testing.assert_array_equal(chained[name], expected)


def test_ssdlite_moves_every_per_class_nonzero_out_in_one_round(splits):
    """The capability check of the whole model names only the first NonZeros; the other NonZeros (same op, same
    attributes) leave with them, the reason saying so, and the parts parse and build in the first round."""
    result = splits[SSDLITE, 3]
    nonzeros = [n.name for n in result.model.proto.graph.node if n.op_type == "NonZero"]
    assert len(nonzeros) > 10
    rest = [p for p in result.parts if p.runtime == ONNXRUNTIME]
    reasons = {node: why for part in rest for node, why in part.reasons.items()}
    assert set(nonzeros) <= set(reasons)
    assert any("same op and attributes as" in reasons[n] and "parser rejected" in reasons[n] for n in nonzeros)
    assert len(result.rounds) == 1 and "TensorRT parts build" in result.rounds[0]


def test_a_data_dependent_boundary_gets_a_range_from_zero(splits):
    """With room for more parts, Faster R-CNN's box head (Gemms after RoIAlign) runs on TensorRT: its input's
    first dim is the number of proposals, computed from data; its profile spans 0 (none) to a stated max."""
    result = splits[FASTER_RCNN, 5]
    runtimes = [p.runtime for p in result.parts]
    assert runtimes.count(TENSORRT) == 2 and runtimes[0] == TENSORRT
    later = next(b for b in result.builds if b.part > 0)
    ranges = later.profiles[0].shapes
    boundary = {b.name: b for b in result.boundaries}
    ranged = [name for name, r in ranges.items() if r.min != r.max]
    assert ranged
    for name in ranged:
        shape_range = ranges[name]
        assert list(shape_range.opt) == boundary[name].observed_shape
        assert shape_range.min[0] == 0 and shape_range.max[0] >= shape_range.opt[0] and shape_range.opt[0] > 0
        reason = next(r for r in later.profile_reasons if r.startswith(name))
        assert "computed from data, can be empty" in reason
        assert f"{ASSUMED_DATA_HEADROOM}×" in reason or "the cap the ops that compute it give" in reason
    # The parts' own parse found what the whole model's check did not reach (the RoIAlign), and nodes reading a
    # computed tensor as a shape (the level counts of the RoI pooling) left TensorRT; the rounds and reasons say so.
    assert any("the parser rejects" in text for text in result.rounds[:-1])
    assert "TensorRT parts build" in result.rounds[-1]
    reasons = [why for p in result.parts for why in p.reasons.values()]
    assert any("as a shape" in why for why in reasons)


def test_the_cap_of_a_nonzero_count_is_the_size_of_what_it_searches(backend):
    model = load_model(CORPUS / "mid_nonzero_ts.onnx")
    types = known_types(model.full_proto())
    bounds = DimBounds(model.proto.graph, types)
    nonzero = next(n for n in model.proto.graph.node if n.op_type == "NonZero")
    searched = [d.dim_value for d in types[nonzero.input[0]].type.tensor_type.shape.dim]
    assert all(searched) and bounds.upper(nonzero.output[0], 1) == int(np.prod(searched))
    assert bounds.data_dependent(nonzero.output[0]) and not bounds.data_dependent(nonzero.input[0])


def test_the_cap_of_torchvision_topk_is_its_constant_k():
    """torchvision computes k = min(topk_candidates, count) (a ReduceMin over a Concat): the cap is the constant,
    and the boxes each TopK keeps on a real run stay within it."""
    model = load_model(CORPUS / SSDLITE)
    bounds = DimBounds(model.proto.graph, known_types(model.full_proto()))
    topks = [n.output[0] for n in model.proto.graph.node if n.op_type == "TopK"]
    cap = CATALOG[SSDLITE]["facts"]["topk_candidates"]
    assert topks and all(bounds.upper(name, 0) == cap for name in topks)
    image = np.random.default_rng(0).uniform(0, 1, (3, 320, 320)).astype(np.float32)
    extra = onnx.load(str(CORPUS / SSDLITE))
    extra.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in topks)
    session = ort.InferenceSession(extra.SerializeToString(), providers=["CPUExecutionProvider"])
    kept = session.run(topks, {"images": image})
    assert all(0 < len(values) <= cap for values in kept)
