"""Large models stay on disk: the model object holds no weight bytes, fixes that don't touch weights
keep them referenced, saves stream them and never touch the original's files, and a build that would
not fit in memory is refused (or a trial build skipped) before it starts.

The models are generated here (a MatMul stack of ~100 MB, inline and with external data), not committed.
"""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.onnx_factory import IR_VERSION
from workbench.core.analysis.support import analyze_support
from workbench.core.build.engine import BuildSettings, build_engine
from workbench.core.memory import MEMORY_LIMIT_VARIABLE, NotEnoughMemory, estimate_build_memory
from workbench.core.build.trial import trial_build
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import apply_fix, parse_spec
from workbench.core.model.loading import load_model, save_model
from workbench.core.model.weight_free import REFERENCE_WEIGHTS_FROM
from workbench.core.problems import ProblemKind

WIDTH = 1024
LAYERS = 24  # 24 × 4 MB of float32 weights


def matmul_stack(layers: int = LAYERS, width: int = WIDTH) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array((rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32),
                                       f"layer{i}.weight") for i in range(layers)]
    nodes, current = [], "x"
    for i in range(layers):
        nodes.append(helper.make_node("MatMul", [current, f"layer{i}.weight"], [f"h{i}"], name=f"layer{i}"))
        current = f"h{i}"
    nodes.append(helper.make_node("Relu", [current], ["y"], name="relu"))
    graph = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", width])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = IR_VERSION  # the test's own onnxruntime sessions read the file as it is
    return model


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """{"inline": path, "external": path} of the same ~100 MB model."""
    folder = tmp_path_factory.mktemp("large")
    proto = matmul_stack()
    (folder / "in").mkdir()
    inline = folder / "in" / "inline.onnx"
    onnx.save_model(proto, inline)
    external_folder = folder / "ext"
    external_folder.mkdir()
    external = external_folder / "external.onnx"
    onnx.save_model(proto, external, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="external.onnx.data")
    return {"inline": inline, "external": external}


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def inline_weight_bytes(proto: onnx.ModelProto) -> int:
    return sum(len(t.raw_data) for t in proto.graph.initializer)


def run(path_or_bytes, feed) -> np.ndarray:
    return ort.InferenceSession(path_or_bytes, providers=["CPUExecutionProvider"]).run(None, feed)[0]


@pytest.mark.parametrize("kind", ["inline", "external"])
def test_the_model_object_holds_no_weight_bytes(large, kind):
    model = load_model(large[kind])
    weights = model.summary().parameter_bytes
    assert weights == LAYERS * WIDTH * WIDTH * 4
    assert inline_weight_bytes(model.proto) == 0 and len(model.serialized) < 64 * 1024
    assert model.references_weights
    assert model.external_data_files() == ([] if kind == "inline" else ["external.onnx.data"])
    assert model.summary().file_size == large[kind].stat().st_size
    full = model.full_proto()  # read in only on request, and exactly
    original = onnx.load(str(large[kind]))
    assert [numpy_helper.to_array(t).tobytes() for t in full.graph.initializer] == \
           [numpy_helper.to_array(t).tobytes() for t in original.graph.initializer]


def test_small_tensors_stay_in_the_proto(tmp_path):
    proto = matmul_stack(layers=2, width=32)  # 4 KB weights: below the threshold
    onnx.save_model(proto, tmp_path / "small.onnx")
    model = load_model(tmp_path / "small.onnx")
    assert not model.references_weights and 32 * 32 * 4 < REFERENCE_WEIGHTS_FROM
    assert inline_weight_bytes(model.proto) == 2 * 32 * 32 * 4


@pytest.mark.parametrize("kind", ["inline", "external"])
def test_parser_and_onnxruntime_read_the_weights_in_place(large, kind, backend):
    model = load_model(large[kind])
    report = analyze_support(model, backend)
    assert report.fully_supported, report.describe()
    feed = {"x": np.random.default_rng(1).standard_normal((2, WIDTH), dtype=np.float32)}
    with OnnxruntimeRunner(model) as runner:
        ours = runner.run(feed)["y"]
    np.testing.assert_array_equal(ours, run(str(large[kind]), feed))


@pytest.mark.parametrize("kind", ["inline", "external"])
def test_a_fix_that_does_not_touch_weights_keeps_them_on_disk_and_saves_them_exactly(large, kind, tmp_path):
    source = large[kind]
    files = sorted(source.parent.iterdir())
    before = {f: (digest(f), f.stat().st_mtime_ns) for f in files}
    model = load_model(source)
    result = apply_fix(model, parse_spec("set-input-shape:input=x,shape=2x1024"))
    assert inline_weight_bytes(result.after.proto) == 0  # the fix never read the weights in
    assert "onnxruntime session" in result.validation.checked_by, result.validation.text
    written = save_model(result.after.proto, tmp_path / "fixed.onnx", protect=model.path,
                         weights_dir=result.after.weights_dir)
    # External data stays external (in a data file of the new model's own); inline stays inline.
    assert (tmp_path / "fixed.onnx.data").exists() == (kind == "external")
    saved = onnx.load(str(written))
    original = onnx.load(str(source))
    assert [numpy_helper.to_array(t).tobytes() for t in saved.graph.initializer] == \
           [numpy_helper.to_array(t).tobytes() for t in original.graph.initializer]
    onnx.checker.check_model(str(written), full_check=True)
    feed = {"x": np.random.default_rng(2).standard_normal((2, WIDTH), dtype=np.float32)}
    np.testing.assert_array_equal(run(str(written), feed), run(str(source), feed))
    assert {f: (digest(f), f.stat().st_mtime_ns) for f in files} == before  # the original is only read


def test_a_save_never_overwrites_the_data_file_the_model_reads(large):
    source = large["external"]
    data = source.parent / "external.onnx.data"
    before = digest(data)
    model = load_model(source)
    with pytest.raises(WorkbenchError, match="never overwritten"):
        save_model(model.proto, source, protect=None, weights_dir=model.weights_dir)
    assert digest(data) == before and not list(source.parent.glob(".trt-workbench-*"))


def test_a_build_that_does_not_fit_is_refused_and_a_trial_build_skipped(large, monkeypatch, tmp_path):
    model = load_model(large["inline"])
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "64M")
    estimate = estimate_build_memory(model)
    assert not estimate.fits and estimate.weights == model.summary().parameter_bytes
    with pytest.raises(NotEnoughMemory, match="would not fit in memory"):
        build_engine(model, BuildSettings(), [], tmp_path / "model.engine")
    assert not (tmp_path / "model.engine").exists()
    trial = trial_build(model)
    assert not trial.succeeded and trial.skipped
    assert [p.kind for p in trial.triage_problems()] == [ProblemKind.TRIAL_BUILD_SKIPPED]
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "64G")
    assert estimate_build_memory(model).fits


def test_a_large_models_shape_probe_and_parity_run_in_a_child_and_answer_as_in_process(large):
    from workbench.core import runners
    from workbench.core.runtime import current_runtime
    from workbench.core.compare import parity
    from workbench.core.shapes import suggest

    model = load_model(large["inline"])
    assert runners.runs_in_child(model)
    suggestion = suggest.suggest_shapes(model)
    assert "onnxruntime" in current_runtime().child_processes()  # the child was used
    here = suggest._suggest(load_model(large["inline"]), None, None, True, suggest.DEFAULT_PROBE_BUDGET_SECONDS, 0,
                            None)
    assert suggestion.profile().to_dict() == here.profile().to_dict()
    assert [d.text() for d in suggestion.dims] == [d.text() for d in here.dims]

    fixed = apply_fix(model, parse_spec("set-input-shape:input=x,shape=2x1024")).after
    checked = parity.check_parity(model, fixed)
    assert checked.verdict == parity.EXACT, checked.reason
    assert checked.to_dict() == parity._check_parity(model, fixed, None, 0, checked.atol, checked.rtol,
                                                     lambda *_: None, None).to_dict()


def test_two_large_models_are_compared_in_the_child(large):
    from workbench.core.compare.comparison import CompareSettings, run_comparison
    from workbench.core.compare.metrics import Verdict

    from workbench.core.runners import runs_in_child

    model = load_model(large["inline"])
    external = load_model(large["external"])  # the same weights, kept in a data file
    assert runs_in_child(model, external)
    result = run_comparison(model, CompareSettings(), against=external)
    assert result.verdict is Verdict.PASS and [o.name for o in result.outputs] == ["y"]
    assert result.inputs and result.arrays["y"][0].shape == result.arrays["y"][1].shape
