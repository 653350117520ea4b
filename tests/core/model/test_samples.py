"""The bundled samples come from their generator and show, under the real parser, what they are for."""

import importlib.util

import pytest

from tests.conftest import ROOT, SAMPLES
from workbench.core.analysis.support import analyze_support
from workbench.core.model.loading import load_model


def _generator():
    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "resources" / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_samples_match_the_generator(tmp_path):
    generator = _generator()
    written = generator.write_samples(tmp_path)
    assert {p.name for p in written} == set(generator.SAMPLES)
    for path in written:
        committed = SAMPLES / path.name
        assert committed.read_bytes() == path.read_bytes(), f"{path.name} differs: run make_samples.py"
        assert committed.stat().st_size < 2_000_000


@pytest.mark.parametrize("name", sorted(_generator().SAMPLES))
def test_every_sample_loads_and_is_analysed_by_the_real_parser(name, backend):
    report = analyze_support(load_model(SAMPLES / name), backend)
    assert report.backend.name == backend.name
    assert len(report.nodes) >= load_model(SAMPLES / name).summary().node_count


def test_clean_cnn_is_supported_but_needs_a_profile(backend):
    report = analyze_support(load_model(SAMPLES / "clean_cnn.onnx"), backend)
    assert report.fully_supported
    assert all(n.status == "supported" for n in report.nodes)
    assert [(p.kind, p.inputs) for p in report.problems] == [("dynamic-input", ["images"])]
    assert report.blocking_problems == []


def test_if_scalar_parser_error_is_reported_on_the_nested_node_with_its_parent(backend):
    report = analyze_support(load_model(SAMPLES / "if_scalar.onnx"), backend)
    assert not report.fully_supported
    error = next(p for p in report.problems if p.kind == "parser-error")
    assert (error.node, error.op, error.parent, error.node_index) == ("down/resize", "Resize", "choose_resolution", 2)
    assert "Error Code" in error.message and "Invalid Node - down/resize" in error.detail
    nested = {n.name: n for n in report.nodes if n.parent == "choose_resolution"}
    assert nested["down/resize"].has_error and nested["down/resize"].status == "unsupported"
    assert {"full/conv", "down/conv"} <= set(nested)
    assert report.parser_errors[0].code == "INVALID_NODE"


def test_other_samples_parse(backend):
    for name in ("groupnorm.onnx", "nms_detector.onnx", "uint8_resize.onnx"):
        report = analyze_support(load_model(SAMPLES / name), backend)
        assert report.fully_supported, name
        assert report.parser_errors == []
