"""Precision bisect on real onnxruntime: the nodes it keeps in FP32 make the FP16 model meet the tolerance."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import helper, numpy_helper

from tests.conftest import run_cli
from tests.corpus.catalog import CATALOG
from tests.corpus.test_corpus import CORPUS
from tests.core.precision.test_conversion import OVERFLOWING_NODES, l2_normalize_model
from tests.onnx_factory import make_model, save, tensor
from workbench.core.build.engine import BuildSettings, build_engine
from workbench.core.compare.metrics import Tolerances
from workbench.core.fixes.apply import apply_fix, make_step
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.shapes.profiles import Profile, ShapeRange
from workbench.core.precision.bisect import bisect_keep_set
from workbench.core.precision.conversion import FP16_ATOL, FP16_RTOL, check_accuracy, convert_model
from workbench.core.progress import Cancelled, CancelToken
from workbench.core.shapes.suggest import suggested_feeds

TOLERANCES = Tolerances(FP16_ATOL, FP16_RTOL)
# 1000.4 rounds to 1000.5 in float16 (spacing 0.5 there): the cancellation below loses ~0.1 absolute.
OFFSET, BACK = 1000.4, 1000.0
CANCELLING_NODES = ["add_offset", "remove_offset"]


def cancellation_model() -> LoadedModel:
    """A chain of harmless ops around y = (x + 1000.4) - 1000.0: only the two offset nodes need FP32."""
    inits = [numpy_helper.from_array(np.full((1, 8), OFFSET, np.float32), "offset"),
             numpy_helper.from_array(np.full((1, 8), BACK, np.float32), "back"),
             numpy_helper.from_array(np.full((1, 8), 0.5, np.float32), "half")]
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Mul", ["r", "half"], ["m"], name="scale"),
             helper.make_node("Add", ["m", "offset"], ["a"], name="add_offset"),
             helper.make_node("Sub", ["a", "back"], ["s"], name="remove_offset"),
             helper.make_node("Tanh", ["s"], ["t"], name="tanh"),
             helper.make_node("Mul", ["t", "half"], ["y"], name="halve")]
    return LoadedModel.from_proto(make_model(nodes, [tensor("x", [1, 8])], [tensor("y", [1, 8])], inits))


def test_bisect_keeps_the_overflowing_nodes_and_passes():
    model = l2_normalize_model()
    feeds = suggested_feeds(model)
    assert not check_accuracy(model, convert_model(model, default_rules=False), feeds, TOLERANCES).passed
    phases = []
    outcome = bisect_keep_set(model, feeds, TOLERANCES, default_rules=False,
                              progress=lambda phase, fraction=None: phases.append(phase))
    assert outcome.check.passed and set(outcome.keep.nodes) == set(OVERFLOWING_NODES)
    assert outcome.runs == len(phases) >= 2
    # With the default keep rules the reduction and the Sqrt after it stay FP32 anyway: only the square is left.
    assert bisect_keep_set(model, feeds, TOLERANCES).keep.nodes == ["square"]


def test_delta_debugging_finds_the_cancelling_pair_among_harmless_nodes():
    model = cancellation_model()
    feeds = suggested_feeds(model)
    converted = check_accuracy(model, convert_model(model), feeds, TOLERANCES)
    assert not converted.passed and not converted.overflows  # precision loss, no overflow: phase 2's work
    outcome = bisect_keep_set(model, feeds, TOLERANCES)
    # onnxruntime computes the Sub after a kept Add in FP32 (see conversion's docstring), so keeping the
    # Add may already pass there: the set is 1-minimal and holds none of the harmless nodes.
    assert outcome.check.passed and "add_offset" in outcome.keep.nodes
    assert set(outcome.keep.nodes) <= set(CANCELLING_NODES)


def test_bisect_stops_on_cancel():
    model = cancellation_model()
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        bisect_keep_set(model, suggested_feeds(model), TOLERANCES, cancel=token)


def test_tensorrt_rtx_builds_the_model_the_bisect_found(backend):
    model = l2_normalize_model()
    outcome = bisect_keep_set(model, suggested_feeds(model), TOLERANCES)
    result = build_engine(convert_model(model, keep=outcome.keep), BuildSettings(), [], backend=backend)
    assert result.succeeded, result.problems
    assert result.precision_label == "FP16 (model types)"


def test_cli_auto_keep_writes_a_model_within_tolerance(tmp_path):
    source = save(l2_normalize_model().proto, tmp_path / "l2.onnx")
    done = run_cli("convert", source, "--to", "fp16", "--auto-keep", "--atol", "1e-2", "--rtol", "1e-2",
                   "-o", tmp_path / "auto.onnx", "--json")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["keep_fp32"] == ["square"] and reply["bisect_runs"] >= 2  # the default rules keep the rest
    assert reply["within_tolerance"] and reply["tolerances"]["reason"] == "given on the command line"


def test_the_bisect_result_applies_as_a_convert_precision_recipe_step():
    model = l2_normalize_model()
    feeds = suggested_feeds(model)
    outcome = bisect_keep_set(model, feeds, TOLERANCES)
    step = make_step("convert-precision", {"keep": ";".join(outcome.keep.to_list())})
    result = apply_fix(model, step)
    assert check_accuracy(model, result.after, feeds, TOLERANCES).passed
    assert any("kept in FP32: " in warning for warning in result.warnings)


def test_bisect_on_a_real_export_finds_the_overflowing_normalization(backend):
    name = "l2_embedding_ts.onnx"
    model = load_model(CORPUS / name)
    feeds = suggested_feeds(model)
    # The default keep rules (its ReduceSum) already make it pass; without them the bisect has work to do.
    assert check_accuracy(model, convert_model(model), feeds, TOLERANCES).passed
    assert not check_accuracy(model, convert_model(model, default_rules=False), feeds, TOLERANCES).passed
    outcome = bisect_keep_set(model, feeds, TOLERANCES, default_rules=False)
    assert outcome.check.passed
    assert set(outcome.keep.nodes) <= set(CATALOG[name]["facts"]["fp16_overflow"]) and outcome.keep.nodes
    built = build_engine(convert_model(model, keep=outcome.keep), BuildSettings(), [
        Profile({"image": ShapeRange((1, 3, 64, 64), (1, 3, 64, 64), (4, 3, 64, 64))})], backend=backend)
    assert built.succeeded, built.problems
