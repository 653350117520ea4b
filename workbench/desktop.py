"""Double-click support: install/remove the .desktop entry, icon and ONNX MIME type for this user.

Follows the freedesktop.org specs: files go under ``$XDG_DATA_HOME`` (default ``~/.local/share``),
the default-application choice under ``$XDG_CONFIG_HOME/mimeapps.list``; the desktop and MIME
caches are refreshed with ``update-desktop-database``/``update-mime-database`` when installed.
Both operations are idempotent and return what they did, line by line. No Qt here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from workbench.core.files import xdg_dir
from workbench.resources import DESKTOP_DIR, ICON

DESKTOP_ID = "trt-workbench.desktop"
MIME_TYPE = "application/x-onnx"
MIME_FILE = "trt-workbench-onnx.xml"
ICON_NAME = "trt-workbench"


def _targets(env) -> dict[str, Path]:
    data = xdg_dir("XDG_DATA_HOME", ".local/share", env)
    return {
        "desktop": data / "applications" / DESKTOP_ID,
        "mime": data / "mime" / "packages" / MIME_FILE,
        "icon": data / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg",
        "mimeapps": xdg_dir("XDG_CONFIG_HOME", ".config", env) / "mimeapps.list",
    }


def launch_command() -> str:
    """The command the file manager runs: the installed script when there is one, else this Python."""
    script = Path(sys.executable).with_name("trt-workbench")
    if script.is_file():
        return shlex.quote(str(script))
    main = Path(__file__).resolve().parent.parent / "main.py"  # a source checkout run without installing it
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(main))}"


def desktop_entry() -> str:
    template = (DESKTOP_DIR / DESKTOP_ID).read_text(encoding="utf-8")
    return template.replace("Exec=trt-workbench %f", f"Exec={launch_command()} %f")


def _write(path: Path, content: bytes) -> str:
    if path.is_file() and path.read_bytes() == content:
        return f"unchanged {path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(content)
    os.replace(temp, path)
    return f"wrote {path}"


def _run(command: list[str], env) -> list[str]:
    if shutil.which(command[0], path=env.get("PATH")) is None:
        return [f"skipped {command[0]} (not installed)"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    status = "ran" if result.returncode == 0 else f"failed ({result.returncode}: {result.stderr.strip()})"
    return [f"{status} {' '.join(command)}"]


def _refresh_caches(targets: dict[str, Path], env) -> list[str]:
    return (_run(["update-mime-database", str(targets["mime"].parent.parent)], env)
            + _run(["update-desktop-database", str(targets["desktop"].parent)], env))


def _set_default_application(mimeapps: Path, install: bool) -> str:
    """Edit ``[Default Applications]`` in mimeapps.list directly: xdg-mime cannot undo its change."""
    lines = mimeapps.read_text(encoding="utf-8").splitlines() if mimeapps.is_file() else []
    entry = f"{MIME_TYPE}={DESKTOP_ID}"
    kept = [line for line in lines if line.strip() != entry]
    if install:
        if "[Default Applications]" not in kept:
            kept += ["[Default Applications]"]
        kept.insert(kept.index("[Default Applications]") + 1, entry)
    if kept == lines:
        return f"unchanged {mimeapps}"
    mimeapps.parent.mkdir(parents=True, exist_ok=True)
    mimeapps.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return f"{'set' if install else 'removed'} {MIME_TYPE} default in {mimeapps}"


def register(env: dict | None = None) -> list[str]:
    env = dict(os.environ if env is None else env)
    targets = _targets(env)
    done = [
        _write(targets["desktop"], desktop_entry().encode()),
        _write(targets["mime"], (DESKTOP_DIR / MIME_FILE).read_bytes()),
        _write(targets["icon"], ICON.read_bytes()),
        _set_default_application(targets["mimeapps"], install=True),
    ]
    return done + _refresh_caches(targets, env)


def unregister(env: dict | None = None) -> list[str]:
    env = dict(os.environ if env is None else env)
    targets = _targets(env)
    done = []
    for key in ("desktop", "mime", "icon"):
        path = targets[key]
        done.append(f"removed {path}" if path.is_file() else f"absent {path}")
        path.unlink(missing_ok=True)
    done.append(_set_default_application(targets["mimeapps"], install=False))
    return done + _refresh_caches(targets, env)
