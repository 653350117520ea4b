"""The memory check in the CLI: a build that would not fit is refused with the numbers (exit 2) unless
--ignore-memory-check; analyze --build skips its trial build and says why."""

from __future__ import annotations

import json

from tests.conftest import SAMPLES
from workbench.cli import main
from workbench.core.memory import MEMORY_LIMIT_VARIABLE

SHAPES = ["--min-shapes", "images:1x3x64x64", "--opt-shapes", "images:1x3x64x64", "--max-shapes", "images:1x3x64x64"]


def test_build_refuses_what_would_not_fit_and_builds_when_told_to_ignore_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "1M")
    engine = tmp_path / "model.engine"
    assert main(["build", str(SAMPLES / "clean_cnn.onnx"), "-o", str(engine), *SHAPES]) == 2
    err = capsys.readouterr().err
    assert "would not fit in memory" in err and f"allowed by {MEMORY_LIMIT_VARIABLE}" in err
    assert "--ignore-memory-check" in err and not engine.exists()
    assert main(["build", str(SAMPLES / "clean_cnn.onnx"), "-o", str(engine), *SHAPES, "--ignore-memory-check"]) == 0
    assert engine.stat().st_size > 0


def test_analyze_build_skips_the_trial_build_and_says_why(capsys, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "1M")
    main(["analyze", str(SAMPLES / "clean_cnn.onnx"), "--build", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["trial_build"]["skipped"].startswith("it needs about")
    assert [p["kind"] for p in data["problems"] if p["stage"] == "build"] == ["trial-build-skipped"]
