"""Desktop registration into a temporary HOME: the real files and the real cache tools."""

from __future__ import annotations

import configparser

from workbench import desktop
from workbench.cli import main


def _env(home):
    return {"HOME": str(home), "PATH": "/usr/bin:/bin"}


def test_register_writes_desktop_entry_mime_type_and_icon(tmp_path):
    lines = desktop.register(_env(tmp_path))
    data = tmp_path / ".local" / "share"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(data / "applications" / "trt-workbench.desktop")
    section = entry["Desktop Entry"]
    assert section["MimeType"] == "application/x-onnx;"
    assert section["Exec"].endswith(" %f") and "trt-workbench" in section["Exec"] or "main.py" in section["Exec"]
    assert section["Icon"] == "trt-workbench"
    mime = (data / "mime" / "packages" / "trt-workbench-onnx.xml").read_text()
    assert 'type="application/x-onnx"' in mime and 'pattern="*.onnx"' in mime
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "trt-workbench.svg").read_text().startswith("<svg")
    assert "application/x-onnx=trt-workbench.desktop" in (tmp_path / ".config" / "mimeapps.list").read_text()
    assert any(line.startswith("wrote ") for line in lines)

    again = desktop.register(_env(tmp_path))
    assert not any(line.startswith("wrote ") for line in again)  # idempotent


def test_unregister_removes_what_register_installed(tmp_path):
    desktop.register(_env(tmp_path))
    mimeapps = tmp_path / ".config" / "mimeapps.list"
    mimeapps.write_text(mimeapps.read_text() + "text/plain=editor.desktop\n")
    desktop.unregister(_env(tmp_path))
    data = tmp_path / ".local" / "share"
    assert not (data / "applications" / "trt-workbench.desktop").exists()
    assert not (data / "mime" / "packages" / "trt-workbench-onnx.xml").exists()
    assert "application/x-onnx" not in mimeapps.read_text()
    assert "text/plain=editor.desktop" in mimeapps.read_text()
    assert all(line.startswith(("absent", "unchanged", "ran", "skipped"))
               for line in desktop.unregister(_env(tmp_path)))


def test_cli_flag_registers_and_prints_what_it_did(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert main(["--register-desktop"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path}/.local/share/applications/trt-workbench.desktop" in out
    assert main(["--unregister-desktop"]) == 0
    assert f"removed {tmp_path}/.local/share/applications/trt-workbench.desktop" in capsys.readouterr().out
