from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.onnxruntime_compat import CACHE_VARIABLE
from workbench.resources import SAMPLES_DIR as SAMPLES

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
# Test files that share corpus models through ``corpus_model``: one pytest-xdist work unit, so the shape
# suggestion of each model they use (probes of a diffusion U-Net at 128 × 64 latents take seconds) is made once
# per test pass by the worker that runs them, not once per file.
SHARED_CORPUS_MODELS_UNIT = ("tests/core/shapes/test_real_exports.py", "tests/core/shapes/test_workloads.py")


@functools.cache
def corpus_model(name: str) -> LoadedModel:
    """``tests/corpus/NAME`` loaded once per test process. A ``LoadedModel`` is read-only, so the tests that only
    read a model share it, and with it the runtime's answers kept for it (its probed shape suggestion)."""
    return load_model(CORPUS / name)


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


def pytest_configure(config):
    """A cache folder of the test run's own (what the workbench keeps between runs, e.g. the installed onnxruntime's
    limits), for every process it starts: tests neither read nor fill the user's."""
    folder = tempfile.mkdtemp(prefix="trt-workbench-test-cache-")
    os.environ[CACHE_VARIABLE] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def pytest_collection_modifyitems(items):
    """Every test under tests/ui needs Qt (pytest-qt, a display): mark them, so `-m "not qt"` selects the rest.
    Files marked ``slow`` run first: pytest-xdist hands out work units in collection order, and a long file
    started last keeps one worker busy after the others have finished."""
    for item in items:
        if "ui" in item.path.relative_to(ROOT / "tests").parts[:-1]:
            item.add_marker(pytest.mark.qt)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: the order within stays


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: pytest without it (``-p no:xdist``) must not fail
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile``, with the files of ``SHARED_CORPUS_MODELS_UNIT`` as one work unit."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedCorpusModelsScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return "shared-corpus-models" if path in SHARED_CORPUS_MODELS_UNIT else path

    return SharedCorpusModelsScheduling(config, log)


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
