"""The app as users install it. ``python -m build`` makes the sdist and, from it, the wheel, without a setuptools
warning; the wheel holds the package with its data and nothing else. Installed into ``.venv-installed`` (a venv of
its own, no editable install: scripts/test.sh installs the dependencies there once, this module reinstalls the
freshly built wheel with ``--no-deps``), it runs from a folder outside the checkout: ``--version``, the window on
its bundled sample (``--screenshot``), ``--register-desktop`` into an empty HOME and ``analyze NAME --json`` on a
bundled sample named, not given by path."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workbench import __version__
from workbench.resources import ICON

INSTALLED_VENV = ROOT / ".venv-installed"
DIST_NAME = f"trt_workbench-{__version__}"
PACKAGE_FILES = {path.relative_to(ROOT).as_posix() for path in (ROOT / "workbench").rglob("*")
                 if path.is_file() and "__pycache__" not in path.parts}

pytestmark = pytest.mark.installed


@dataclass
class Dist:
    sdist: Path
    wheel: Path
    log: str  # what the build printed


@dataclass
class Installed:
    venv: Path
    cwd: Path  # a folder outside the checkout
    home: Path  # an empty HOME
    env: dict

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.venv / "bin" / "trt-workbench"), *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Dist:
    out = tmp_path_factory.mktemp("dist")
    # Without isolation: the dev install has the build backend, so no fresh build venv per run.
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    return Dist(out / f"{DIST_NAME}.tar.gz", out / f"{DIST_NAME}-py3-none-any.whl", built.stdout + built.stderr)


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Installed:
    if not (INSTALLED_VENV / "bin" / "python").is_file():
        pytest.skip(f"{INSTALLED_VENV} is missing: scripts/test.sh creates it with the app's dependencies")
    done = subprocess.run([str(INSTALLED_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                           "--force-reinstall", str(dist.wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    cwd, home = tmp_path_factory.mktemp("outside"), tmp_path_factory.mktemp("home")
    assert ROOT not in cwd.parents
    # Nothing leads back to the checkout: no PYTHONPATH, none of its venvs on PATH, the freedesktop folders in HOME.
    path = [str(INSTALLED_VENV / "bin")] + [entry for entry in os.environ.get("PATH", "").split(os.pathsep)
                                            if entry and not entry.startswith(str(ROOT))]
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    return Installed(INSTALLED_VENV, cwd, home, {**env, "HOME": str(home), "PATH": os.pathsep.join(path)})


def test_the_build_makes_an_sdist_and_a_wheel_without_warnings(dist):
    assert dist.sdist.is_file() and dist.wheel.is_file()
    # build shows the backend's Python warnings (setuptools' deprecation of the license table, package data picked
    # up by accident) as "WARNING …", or with their class names; distutils' lower-case "warning:" lines are notes.
    warnings = [line for line in dist.log.splitlines()
                if "WARNING" in line or "Warning" in line or "deprecat" in line.lower()]
    assert warnings == [], dist.log


def test_the_wheel_holds_the_package_with_its_data_and_nothing_else(dist):
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"{DIST_NAME}.dist-info/METADATA").decode()
    info = {name for name in names if name.startswith(f"{DIST_NAME}.dist-info/")}
    assert names - info == PACKAGE_FILES
    assert {"workbench/resources/samples/clean_cnn.onnx", "workbench/resources/icons/trt-workbench.svg",
            "workbench/resources/desktop/trt-workbench.desktop"} <= names
    assert f"{DIST_NAME}.dist-info/licenses/LICENSE" in info
    assert "License-Expression: Apache-2.0" in metadata and f"Version: {__version__}" in metadata
    assert {f"Provides-Extra: {extra}" for extra in ("tensorrt", "modelopt", "dev")} <= set(metadata.splitlines())


def test_the_sdist_holds_what_builds_the_wheel_and_nothing_else(dist):
    with tarfile.open(dist.sdist) as sdist:
        files = {member.name.split("/", 1)[1] for member in sdist.getmembers() if member.isfile()}
    tops = {name.split("/", 1)[0] for name in files}
    assert tops == {"PKG-INFO", "README.md", "LICENSE", "pyproject.toml", "setup.cfg", "MANIFEST.in", "workbench",
                    "trt_workbench.egg-info"}
    assert {name for name in files if name.startswith("workbench/")} == PACKAGE_FILES


def test_the_installed_app_runs_from_its_own_package(installed):
    probe = ("import json, workbench, workbench.resources as r; print(json.dumps([workbench.__file__, "
             "str(r.DEFAULT_SAMPLE), str(r.ICON), sorted(p.name for p in r.DESKTOP_DIR.iterdir())]))")
    done = subprocess.run([str(installed.venv / "bin" / "python"), "-c", probe], cwd=installed.cwd,
                          env=installed.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    package, sample, icon, desktop_files = json.loads(done.stdout)
    site_packages = next((installed.venv / "lib").glob("python3*/site-packages"))
    assert Path(package) == site_packages / "workbench" / "__init__.py"
    assert Path(sample).is_file() and Path(sample).is_relative_to(site_packages)
    assert Path(icon).read_bytes() == ICON.read_bytes() and Path(icon).is_relative_to(site_packages)
    assert desktop_files == ["trt-workbench-onnx.xml", "trt-workbench.desktop"]

    version = installed.run("--version", timeout=60)
    assert (version.returncode, version.stdout.strip()) == (0, f"TensorRT Workbench {__version__}")


def test_the_installed_window_opens_its_bundled_sample(installed):
    shot = installed.cwd / "window.png"
    done = installed.run("--screenshot", str(shot))
    assert done.returncode == 0, done.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "the whole window" in done.stdout


def test_the_installed_app_registers_its_desktop_entry(installed):
    done = installed.run("--register-desktop", timeout=60)
    assert done.returncode == 0, done.stderr
    data = installed.home / ".local" / "share"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(data / "applications" / "trt-workbench.desktop")
    assert entry["Desktop Entry"]["Exec"] == f"{installed.venv / 'bin' / 'trt-workbench'} %f"
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "trt-workbench.svg").read_bytes() == ICON.read_bytes()
    assert (data / "mime" / "packages" / "trt-workbench-onnx.xml").is_file()

    removed = installed.run("--unregister-desktop", timeout=60)
    assert removed.returncode == 0, removed.stderr
    assert not (data / "applications" / "trt-workbench.desktop").exists()


def test_the_installed_cli_analyses_a_bundled_sample_named(installed):
    done = installed.run("analyze", "clean_cnn", "--json")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    path = Path(reply["summary"]["path"])
    assert path.name == "clean_cnn.onnx" and path.is_relative_to(installed.venv)
    assert [problem["kind"] for problem in reply["problems"]] == ["dynamic-input"]
