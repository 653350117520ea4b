"""Report export: JSON that round-trips the result, a self-contained HTML with the plots inside."""

import html
import json
import re

import onnx
import pytest
from onnx import helper

from tests.compare_models import chain_model, perturbed, tiny_output_copy
from tests.onnx_factory import make_model, tensor
from workbench.core.compare.comparison import CompareSettings, run_comparison
from workbench.core.errors import WorkbenchError
from workbench.core.compare.inputs import InputSpec
from workbench.core.model.loading import LoadedModel
from workbench.core.compare.report import write_report


@pytest.fixture(scope="module")
def failed_result():
    chain = chain_model(4)
    return run_comparison(LoadedModel.from_proto(chain), CompareSettings(bisect=True, timing_runs=3, warmup=1),
                          against=LoadedModel.from_proto(perturbed(chain, "scale_1")))


def test_json_and_html_are_written_side_by_side(failed_result, tmp_path):
    json_path, html_path = write_report(failed_result, tmp_path / "run1.html")
    assert (json_path.name, html_path.name) == ("run1.json", "run1.html")
    data = json.loads(json_path.read_text())
    assert data["passed"] is False and data["verdict"] == failed_result.verdict
    assert data["outputs"][0]["name"] == "y" and data["bisect"]["node"] == "mul_1"
    assert len(data["timing"]) == 2 and "TensorRT Workbench" in data["tool"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1.html", "run1.json"]  # no temp files left


def test_html_is_self_contained_with_plots(failed_result, tmp_path):
    _json, html_path = write_report(failed_result, tmp_path / "r")
    page = html_path.read_text()
    assert "<svg" in page and "data:image/png;base64," in page  # histogram and 4-D heatmap embedded
    assert not re.search(r"(src|href)=['\"]https?:", page)
    assert "FAIL" in page and "mul_1" in page and "class=\"fail\"" in page


def test_heatmap_only_for_2d_and_4d_outputs(tmp_path):
    model = LoadedModel.from_proto(make_model([helper.make_node("Sin", ["x"], ["y"])],
                                              [tensor("x", [2, 3, 4])], [tensor("y", [2, 3, 4])]))
    result = run_comparison(model, CompareSettings(), InputSpec(), against=model)
    page = write_report(result, tmp_path / "r")[1].read_text()
    assert "data:image/png" not in page and "All errors are exactly zero" in page


def test_missing_folder_is_refused_and_nothing_written(failed_result, tmp_path):
    with pytest.raises(WorkbenchError, match="does not exist"):
        write_report(failed_result, tmp_path / "missing" / "r")
    assert list(tmp_path.iterdir()) == []


def test_verdict_and_reason_per_output_and_overall_in_json_and_html(samples, tmp_path):
    tiny = tiny_output_copy(onnx.load(samples / "clean_cnn.onnx"), ("fc.weight", "fc.bias"))
    result = run_comparison(LoadedModel.from_proto(tiny), CompareSettings(), InputSpec(),
                            against=LoadedModel.from_proto(perturbed(tiny, "fc.weight", 1.001)))
    json_path, html_path = write_report(result, tmp_path / "r")
    data = json.loads(json_path.read_text())
    assert (data["verdict"], data["reason"]) == ("CANNOT_JUDGE", result.reason)
    assert data["outputs"][0]["verdict"] == "CANNOT_JUDGE" and data["outputs"][0]["reason"] == result.outputs[0].reason
    page = html_path.read_text()
    assert "<p class='verdict cannot-judge'>CANNOT_JUDGE: 1 of 1 output(s) the tolerance cannot judge" in page
    assert '<tr class="cannot-judge"><td>logits</td>' in page
    assert html.escape(result.outputs[0].reason) in page and "tr.cannot-judge td{background:" in page
