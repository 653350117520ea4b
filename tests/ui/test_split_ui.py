"""Repair → Split for TensorRT… in the real main window: the split runs in a worker and the dialog lists
the parts, why nodes left TensorRT, the boundary tensors and the verdicts; the folder is written."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT
from tests.ui.conftest import LOAD_TIMEOUT_MS, open_and_wait

CORPUS = ROOT / "tests" / "corpus"


def test_split_dialog_shows_parts_reasons_boundaries_and_writes_the_folder(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, CORPUS / "mid_nonzero_ts.onnx")
    assert window.repair.split_action.isEnabled()
    dialog = window.repair.open_split_dialog()
    assert not dialog.write_button.isEnabled()  # nothing to write while it splits
    qtbot.waitUntil(lambda: dialog.result is not None and dialog.worker is None, timeout=LOAD_TIMEOUT_MS)
    shown = dialog.view.toPlainText()
    assert "Part 1: tensorrt" in shown and "Part 2: onnxruntime" in shown and "Part 3: tensorrt" in shown
    assert "/NonZero: The TensorRT parser rejected NonZero" in shown
    assert "Boundary tensors" in shown and "maps: PASS" in shown
    assert dialog.write_button.isEnabled()
    dialog.write_to(tmp_path / "split")
    split = tomllib.loads((tmp_path / "split" / "split.toml").read_text())["split"]
    assert [p["runtime"] for p in split["parts"]] == ["tensorrt", "onnxruntime", "tensorrt"]
    assert "Wrote" in dialog.status.text()
