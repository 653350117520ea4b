"""The repair search on real models with the real TensorRT-RTX builder and onnxruntime."""

from __future__ import annotations

import pytest

from tests.conftest import CORPUS, SAMPLES
from workbench.core.build.engine import BuildSettings, build_engine
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import replay, steps_from_recipe
from workbench.core.model.loading import iter_nodes, load_model
from workbench.core.compare.parity import BEYOND, EXACT
from workbench.core.shapes.profiles import profiles_from_recipe
from workbench.core.progress import Cancelled, CancelToken
from workbench.core.model.switches import default_values
from workbench.core.repair import NOTHING_TO_REPAIR, REPAIRED, repair_model


def test_if_scalar_is_repaired_by_freeze_and_fold_and_the_result_builds(backend):
    model = load_model(SAMPLES / "if_scalar.onnx")
    result = repair_model(model, backend=backend)
    assert result.status == REPAIRED
    step = result.steps[0]
    assert step.fix.name == "freeze-input"
    assert step.fix.param_dict == {"input": "downsample_ratio", "value": 1.0, "fold": True}
    assert "check_ratio" in step.reason  # the value came from the model's own threshold
    assert step.parity.verdict != BEYOND and step.parity.outputs
    assert "constant" in step.confirm and result.needs_confirmation == [step]
    assert "If" not in {node.op_type for node, _ in iter_nodes(result.model.proto.graph)}
    assert [t.name for t in result.model.summary().inputs] == ["image"]
    # The recipe replays to a model the real builder accepts.
    replayed = replay(model, steps_from_recipe(result.recipe()))[-1].after
    assert build_engine(replayed, BuildSettings(), [], backend=backend).succeeded


def test_a_value_the_user_gives_is_used(backend):
    result = repair_model(load_model(SAMPLES / "if_scalar.onnx"), input_values={"downsample_ratio": "0.5"},
                          backend=backend)
    assert result.status == REPAIRED
    assert result.steps[0].fix.param_dict["value"] == 0.5
    assert "You gave" in result.steps[0].reason


def test_an_unknown_or_bad_input_value_is_refused_clearly(backend):
    model = load_model(SAMPLES / "if_scalar.onnx")
    with pytest.raises(WorkbenchError, match="no input named 'ratio'") as caught:
        repair_model(model, input_values={"ratio": 1}, backend=backend)
    assert "downsample_ratio" in caught.value.hint
    with pytest.raises(WorkbenchError, match="not a valid values"):
        repair_model(model, input_values={"downsample_ratio": "half"}, backend=backend)


def test_a_dynamic_input_without_profile_is_repaired_by_a_profile_not_a_graph_change(backend):
    model = load_model(SAMPLES / "clean_cnn.onnx")
    result = repair_model(model, backend=backend)
    assert result.status == REPAIRED
    assert result.problems_before[0].kind == "no-profile"
    assert [s.fix for s in result.steps] == [None]
    assert result.model is model and result.fix_results == []
    assert result.needs_confirmation == []
    recipe = result.recipe()
    assert recipe.fixes == [] and profiles_from_recipe(recipe.profiles)[0].shapes["images"].opt == (1, 3, 64, 64)
    assert result.trial.succeeded


def test_nms_is_cut_out_of_the_engine_with_exact_parity(rtx_backend):
    result = repair_model(load_model(SAMPLES / "nms_detector.onnx"), backend=rtx_backend)
    assert result.status == REPAIRED
    assert result.steps[-1].fix.name == "cut-outputs" and result.steps[-1].parity.verdict == "exact"
    assert result.steps[-1].confirm
    assert any(line.startswith("replace-nms") and "does not build" in line for line in result.tried)


def test_a_clean_model_reports_nothing_to_repair(backend):
    result = repair_model(load_model(SAMPLES / "groupnorm.onnx"), backend=backend)
    assert result.status == NOTHING_TO_REPAIR and not result.found
    assert result.steps == [] and result.tried == [] and result.problems_before == []


def test_cancel_stops_the_search(backend):
    token = CancelToken()
    phases = []

    def progress(phase, _fraction=None):
        phases.append(phase)
        if phase.startswith("Trying"):
            token.cancel()

    with pytest.raises(Cancelled, match="cancelled"):
        repair_model(load_model(SAMPLES / "nms_detector.onnx"), backend=backend, progress=progress, cancel=token)
    assert len([p for p in phases if p.startswith("Trying")]) == 1


def test_default_values_come_from_metadata_then_thresholds_then_the_dtype():
    model = load_model(SAMPLES / "if_scalar.onnx")
    proto = model.full_proto()
    entry = proto.metadata_props.add()
    entry.key, entry.value = "downsample_ratio", "0.25"
    from workbench.core.model.loading import LoadedModel

    values = [value for value, _source in default_values(LoadedModel.from_proto(proto), "downsample_ratio")]
    assert values == ["0.25", 1.0]


def test_dims_sharing_a_placeholder_name_are_renamed_with_the_profile_not_made_static(backend):
    # PaddleOCR's classifier as paddle2onnx writes it: x [?, 3, ?, ?]. The suggested profile (H 48, W 192) fails
    # because TensorRT takes the '?' dims as one; renamed, the same profile builds and the input stays dynamic.
    model = load_model(CORPUS / "text_classifier_p2o.onnx")
    result = repair_model(model, backend=backend)
    assert result.status == REPAIRED and result.trial.succeeded
    [step] = result.steps
    assert step.fix.name == "rename-dims" and step.profiles and result.needs_confirmation == []
    assert step.parity.verdict == EXACT
    assert result.model.summary().inputs[0].shape == ("x_batch", 3, "x_height", "x_width")
    assert any("share the name '?'" in tried for tried in result.tried)  # the profile alone was refused for it
