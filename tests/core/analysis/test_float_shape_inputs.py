"""A float input that TensorRT's parser takes as a shape tensor (the model computes sizes from it): the analysis lists
it as its own problem with the freeze-input fix, and profiles explain that no range can be given for it.

Real models: a TorchScript export whose float ``scale`` input sizes an F.interpolate (tests/corpus/zoom_scale_ts.onnx)
and the bundled if_scalar sample; the real TensorRT parser."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES
from tests.corpus.test_corpus import CORPUS
from workbench.core.analysis.support import analyze_support
from workbench.core.fixes.apply import apply_fix, parse_spec
from workbench.core.model.loading import load_model
from workbench.core.problems import ProblemKind, Severity
from workbench.core.shapes.profiles import Profile, ShapeRange, validate_profiles

FLOAT_SCALE_INPUTS = [(CORPUS / "zoom_scale_ts.onnx", "scale", 0.5),
                      (SAMPLES / "if_scalar.onnx", "downsample_ratio", 0.5)]


@pytest.mark.parametrize(("path", "name", "deployed"), FLOAT_SCALE_INPUTS, ids=lambda v: getattr(v, "stem", None))
def test_the_float_shape_tensor_input_is_a_problem_of_its_own_and_freezing_it_removes_it(path, name, deployed,
                                                                                         backend):
    model = load_model(path)
    report = analyze_support(model, backend)
    assert name in report.shape_tensor_inputs  # the parser's own verdict
    found = [p for p in report.problems if p.kind == ProblemKind.FLOAT_SHAPE_INPUT]
    assert [(p.node, p.inputs, p.severity) for p in found] == [(name, [name], Severity.ERROR)]
    assert "a float value such as 0.25" in found[0].message and "shape tensor" in found[0].message
    assert "freeze-input" in found[0].fixes and "1x64" not in found[0].message

    frozen = apply_fix(model, parse_spec(f"freeze-input:input={name},value={deployed}")).after
    after = analyze_support(frozen, backend)
    assert name not in after.shape_tensor_inputs
    assert not [p for p in after.problems if p.kind == ProblemKind.FLOAT_SHAPE_INPUT]


def test_the_parser_itself_refuses_a_float_shape_tensor(backend):
    """What the problem says is TensorRT's rule, not ours: its parser names the input and the integer types."""
    report = analyze_support(load_model(CORPUS / "zoom_scale_ts.onnx"), backend)
    assert any("scale is a shape tensor and must have type Int32 or Int64" in p.detail
               for p in report.problems if p.kind == ProblemKind.PARSER_ERROR)


def test_profiles_say_a_float_shape_tensor_takes_no_range(backend):
    model = load_model(CORPUS / "zoom_scale_ts.onnx")
    inputs = model.summary().inputs
    image = ShapeRange((1, 3, 64, 64), (1, 3, 64, 64), (1, 3, 64, 64))
    without = validate_profiles([Profile({"image": image})], inputs, ["scale"])
    with_values = validate_profiles([Profile({"image": image}, values={"scale": ShapeRange((1,), (1,), (1,))})],
                                    inputs, ["scale"])
    for issues in (without, with_values):
        assert [(i.input, i.values) for i in issues] == [("scale", True)]
        assert "a float value such as 0.25" in issues[0].message and "freeze-input" in issues[0].message
