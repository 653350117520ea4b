from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from workbench.resources import SAMPLES_DIR as SAMPLES

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``trt-workbench ARGS…`` in its own process, as users run it (native output on fd 1/2 counts too), in the
    folder ``cwd``; this checkout's code is imported from any folder."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "workbench.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=env)


def our_child_processes() -> set[int]:
    """Our child processes (``core/isolation``'s), not QtWebEngine's, which live as long as the application."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "workbench.core.isolation.serve" in child.cmdline():
                found.add(child.pid)
        except psutil.NoSuchProcess:  # ended while we looked
            pass
    return found


def pytest_collection_modifyitems(items):
    """Every test under tests/ui needs Qt (pytest-qt, a display): mark them, so `-m "not qt"` selects the rest."""
    for item in items:
        if "ui" in item.path.relative_to(ROOT / "tests").parts[:-1]:
            item.add_marker(pytest.mark.qt)


@pytest.fixture(scope="session")
def backend():
    """The real TensorRT backend (TensorRT-RTX on machines without full TensorRT)."""
    from workbench.core.runtime import load_backend

    return load_backend("auto")


@pytest.fixture(scope="session")
def rtx_backend():
    """TensorRT-RTX itself (always installed), for facts that belong to it whichever backend "auto" picks:
    e.g. it has no NonMaxSuppression implementation and no EfficientNMS plugin, where full TensorRT has both."""
    from workbench.core.runtime import load_backend

    return load_backend("tensorrt-rtx")


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES
