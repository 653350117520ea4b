"""The package's own data: the bundled samples by name, the icon and the desktop files, all inside the package."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from workbench import resources
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import load_model


def test_the_data_lives_inside_the_package():
    package = ROOT / "workbench"
    for path in (resources.DEFAULT_SAMPLE, resources.ICON, resources.DESKTOP_DIR / "trt-workbench.desktop",
                 resources.DESKTOP_DIR / "trt-workbench-onnx.xml"):
        assert path.is_file() and path.is_relative_to(package), path
    assert resources.sample_names() == ["clean_cnn", "groupnorm", "if_scalar", "nms_detector", "uint8_resize"]


def test_a_sample_is_found_by_its_name_with_or_without_suffix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sample = str(resources.SAMPLES_DIR / "if_scalar.onnx")
    assert resources.model_path("if_scalar") == sample
    assert resources.model_path("if_scalar.onnx") == sample
    assert load_model(resources.model_path("if_scalar")).path == Path(sample)


def test_the_users_own_file_wins_over_a_sample_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clean_cnn.onnx").write_bytes(b"mine")
    assert resources.model_path("clean_cnn.onnx") == "clean_cnn.onnx"
    assert resources.model_path(str(tmp_path / "clean_cnn.onnx")) == str(tmp_path / "clean_cnn.onnx")


def test_a_missing_file_stays_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # A folder in the path, or a name no sample has: the text is kept, and loading it says the file is not there.
    for text in ("models/clean_cnn.onnx", "resnet50", "resnet50.onnx"):
        assert resources.model_path(text) == text
    with pytest.raises(WorkbenchError, match="File not found: models/clean_cnn.onnx"):
        load_model(resources.model_path("models/clean_cnn.onnx"))
