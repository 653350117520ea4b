"""Repair falls back to a split when no fix sequence makes the whole model build, and says so."""

from __future__ import annotations

from tests.conftest import ROOT
from workbench.cli import EXIT_PROBLEMS, main
from workbench.core.model.loading import load_model
from workbench.core.repair import SPLIT_OFFERED, repair_model
from workbench.core.split.split import split_model

DETECTOR = ROOT / "tests" / "corpus" / "detector_nms_ts.onnx"


def test_repair_out_of_time_offers_the_split_that_then_builds_and_matches(backend):
    # No time for any sequence (as on torchvision's SSDlite, where the search gives up): the split is offered.
    model = load_model(DETECTOR)
    result = repair_model(model, backend=backend, budget_seconds=0)
    assert result.status == SPLIT_OFFERED and not result.found and result.steps == []
    assert "makes the whole model build" in result.message and "/NonZero" in result.message
    assert "trt-workbench split" in result.message
    # What it offers is what `split` then builds and proves.
    split = split_model(model, backend=backend)
    assert split.succeeded and all(name in result.message for name in split.parts[0].outputs)


def test_repair_cli_writes_nothing_and_exits_1_when_it_offers_a_split(tmp_path, capsys):
    code = main(["repair", str(DETECTOR), "-o", str(tmp_path / "fixed.onnx"), "--recipe-out",
                 str(tmp_path / "r.toml"), "--budget", "0.001"])
    assert code == EXIT_PROBLEMS and not (tmp_path / "fixed.onnx").exists()
    assert "trt-workbench split" in capsys.readouterr().out
