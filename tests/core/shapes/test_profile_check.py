"""The Profiles panel's check of a suggested profile answers from the suggestion's own probe: each of its shapes ran
on this model already, with the same inputs; a shape the probe never ran is run."""

from __future__ import annotations

import pytest

from tests.conftest import CORPUS
from workbench.core.model.loading import load_model
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.runtime import Runtime
from workbench.core.shapes.profile_check import probe_profiles
from workbench.core.shapes.profiles import Profile, ShapeRange
from workbench.core.shapes.suggest import suggest_shapes

SEGMENTER = CORPUS / "segmenter_dynamo.onnx"  # a U-Net with dynamic batch, height and width


@pytest.fixture
def onnxruntime_runs(monkeypatch):
    """The shapes onnxruntime is really asked to run."""
    shapes = []
    run = OnnxruntimeRunner.run

    def counted(self, feeds):
        shapes.append({name: value.shape for name, value in feeds.items()})
        return run(self, feeds)

    monkeypatch.setattr(OnnxruntimeRunner, "run", counted)
    return shapes


def test_the_suggested_profile_is_checked_from_the_probes_runs(onnxruntime_runs):
    model = load_model(SEGMENTER)
    with Runtime():
        suggestion = suggest_shapes(model)
        probed = len(onnxruntime_runs)
        assert probed and suggestion.probed
        [check] = probe_profiles(model, [suggestion.profile()])
        assert check.ok and check.checked, check.text()
        assert len(onnxruntime_runs) == probed  # every shape of the row ran in the probe

        [name] = suggestion.profile().shapes
        opt = suggestion.profile().shapes[name].opt
        wider = Profile({name: ShapeRange(opt, opt, (1, 3, opt[2] + 32, opt[3] + 32))})
        [check] = probe_profiles(model, [wider])
        assert check.ok and check.checked, check.text()
        assert onnxruntime_runs[probed:] == [{name: wider.shapes[name].max}]  # only the shape nobody ran


def test_a_new_runtime_checks_by_running(onnxruntime_runs):
    model = load_model(SEGMENTER)
    with Runtime():
        profile = suggest_shapes(model).profile()
    before = len(onnxruntime_runs)
    with Runtime():
        [check] = probe_profiles(model, [profile])
    assert check.ok and len(onnxruntime_runs) > before
