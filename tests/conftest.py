from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "resources" / "samples"
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def backend():
    """The real TensorRT backend (TensorRT-RTX on machines without full TensorRT)."""
    from workbench.core.backend import load_backend

    return load_backend("auto")


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES
