"""BF16 conversion: a true bfloat16 model TensorRT-RTX builds, its accuracy emulated in FP32 under onnxruntime."""

from __future__ import annotations

import json

import ml_dtypes
import numpy as np
from onnx import TensorProto, checker, helper, numpy_helper

from tests.conftest import run_cli
from tests.corpus.catalog import CATALOG
from tests.corpus.test_corpus import CORPUS
from tests.onnx_factory import make_model, tensor
from workbench.core.build.engine import BuildSettings, build_engine
from workbench.core.compare.metrics import Tolerances, Verdict
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.precision.bisect import bisect_keep_set
from workbench.core.precision.conversion import (BF16_ATOL, BF16_EMULATION, BF16_RTOL, KeepSet, check_conversion,
                                                 convert_model, emulation_twin)
from workbench.core.shapes.profiles import Profile, ShapeRange
from workbench.core.shapes.suggest import suggested_feeds

TOLERANCES = Tolerances(BF16_ATOL, BF16_RTOL)
SENSITIVE = "sensor_centering_ts.onnx"


def _bf16(values) -> np.ndarray:
    return np.asarray(values, np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)


def _fixed_profile(model: LoadedModel) -> list[Profile]:
    shapes = {name: tuple(shape) for name, shape in CATALOG[model.name]["realistic"].items()}
    return [Profile({name: ShapeRange(shape, shape, shape) for name, shape in shapes.items()})]


def test_bf16_conversion_of_a_real_export_is_true_bfloat16_and_builds(backend):
    model = load_model(CORPUS / "l2_embedding_ts.onnx")
    converted = convert_model(model, "bf16")
    originals = {init.name: numpy_helper.to_array(init) for init in model.full_proto().graph.initializer}
    reduced = [init for init in converted.proto.graph.initializer if init.data_type == TensorProto.BFLOAT16]
    assert reduced and not any(i.data_type == TensorProto.FLOAT16 for i in converted.proto.graph.initializer)
    for init in reduced:  # rounded from the FP32 weights, not from a float16 copy
        stored = np.frombuffer(init.raw_data, np.uint16).view(ml_dtypes.bfloat16).astype(np.float32)
        np.testing.assert_array_equal(stored, _bf16(originals[init.name]).ravel())
    assert converted.proto.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT  # I/O kept float32
    built = build_engine(converted, BuildSettings(), _fixed_profile(model), backend=backend)
    assert built.succeeded, built.problems
    assert built.precision_label == "BF16 (model types)"
    check = check_conversion(model, "bf16", KeepSet(), suggested_feeds(model), TOLERANCES, converted=converted)
    assert check.emulation == BF16_EMULATION and check.to_dict()["emulation"] == BF16_EMULATION
    assert [o.name for o in check.outputs] == ["embedding"] and check.outputs[0].verdict is not Verdict.CANNOT_JUDGE


def test_emulation_twin_rounds_weights_inputs_and_outputs_like_bfloat16():
    weight = np.array([[1.00390625, 3.14159, 1000.4, -2.71828]], np.float32)
    model = LoadedModel.from_proto(make_model(
        [helper.make_node("Add", ["x", "w"], ["s"], name="add"), helper.make_node("Relu", ["s"], ["y"], name="relu")],
        [tensor("x", [1, 4])], [tensor("y", [1, 4])], [numpy_helper.from_array(weight, "w")]))
    x = np.array([[0.1, 0.2, 0.3, 0.4]], np.float32)
    from workbench.core.runners import OnnxruntimeRunner

    twin = OnnxruntimeRunner(emulation_twin(model)).run({"x": x})["y"]
    np.testing.assert_array_equal(twin, np.maximum(_bf16(_bf16(x) + _bf16(weight)), 0))
    kept = OnnxruntimeRunner(emulation_twin(model, KeepSet(["add"]))).run({"x": x})["y"]
    np.testing.assert_array_equal(kept, _bf16(np.maximum(x + weight, 0)))


def test_bf16_sensitive_export_fails_and_the_bisect_finds_the_nodes_to_keep(backend):
    model = load_model(CORPUS / SENSITIVE)
    feeds = suggested_feeds(model)
    failing = check_conversion(model, "bf16", KeepSet(), feeds, TOLERANCES, default_rules=False)
    assert not failing.passed and failing.outputs[0].verdict is Verdict.FAIL and not failing.overflows
    outcome = bisect_keep_set(model, feeds, TOLERANCES, to="bf16", default_rules=False)
    assert outcome.check.passed and outcome.check.emulation == BF16_EMULATION
    sensitive = set(CATALOG[SENSITIVE]["facts"]["bf16_sensitive"])
    assert set(outcome.keep.nodes) == sensitive
    # The default keep rules keep /ReduceMean: the bisect then needs only the rest.
    with_rules = bisect_keep_set(model, feeds, TOLERANCES, to="bf16")
    assert with_rules.check.passed and set(with_rules.keep.nodes) == sensitive - {"/ReduceMean"}
    built = build_engine(convert_model(model, "bf16", outcome.keep), BuildSettings(), _fixed_profile(model),
                         backend=backend)
    assert built.succeeded, built.problems


def test_cli_convert_to_bf16_with_keep_and_auto_keep(tmp_path):
    source = CORPUS / SENSITIVE
    failing = run_cli("convert", source, "--to", "bf16", "-o", tmp_path / "bf16.onnx", "--json")
    assert failing.returncode == 1, failing.stderr
    assert json.loads(failing.stdout)["emulation"] == BF16_EMULATION
    keep = CATALOG[SENSITIVE]["facts"]["bf16_sensitive"]
    kept = run_cli("convert", source, "--to", "bf16", "--keep-fp32", *keep, "-o", tmp_path / "kept.onnx", "--json")
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["within_tolerance"]
    auto = run_cli("convert", source, "--to", "bf16", "--auto-keep", "-o", tmp_path / "auto.onnx")
    assert auto.returncode == 0, auto.stderr
    assert "emulated BF16 rounding, computed in FP32" in auto.stdout and "Precision bisect" in auto.stdout
    written = load_model(tmp_path / "auto.onnx")
    assert any(i.data_type == TensorProto.BFLOAT16 for i in written.proto.graph.initializer)


def test_the_emulation_twin_rounds_inside_if_branches_too():
    """The converter converts If/Loop bodies as well; the twin must round there, or BF16 error in a branch
    would be understated (if_cond_dynamo: Conv → Relu → Conv and a Conv in the branches of an If on `mode`; Conv
    has no bfloat16 form before opset 22, so the Convs stay FP32 and the Relu is what is rounded)."""
    from workbench.core.runners import OnnxruntimeRunner

    model = load_model(CORPUS / "if_cond_dynamo.onnx")
    twin = emulation_twin(model)
    checker.check_model(twin.full_proto(), full_check=True)
    branch = next(n for n in twin.proto.graph.node if n.op_type == "If")
    rounded = [any(n.op_type == "Cast" and n.attribute[0].i == TensorProto.BFLOAT16 for n in attribute.g.node)
               for attribute in branch.attribute]
    assert sorted(rounded) == [False, True]
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32) * 10
    differs = []
    for mode in (0, 1):
        feeds = {"x": x, "mode": np.array(mode, dtype=np.int64)}
        exact = OnnxruntimeRunner(model).run(feeds)
        emulated = OnnxruntimeRunner(twin).run(feeds)
        name = next(iter(exact))
        differs.append(not np.array_equal(exact[name], emulated[name]))  # rounded in the branch taken
        np.testing.assert_allclose(emulated[name], exact[name], rtol=0.1, atol=0.5)
    assert sorted(differs) == [False, True]
