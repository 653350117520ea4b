"""The probe does not start a run that would end past its time budget: the run's time is predicted from the probe's
own runs (a diffusion UNet's attention at twice the latent's area took 4.5 s, past an 8 s budget already half spent).
The prediction is checked here on runs with set times, so the test does not depend on this machine's speed."""

from __future__ import annotations

import math
import time

import pytest

from tests.conftest import CORPUS
from workbench.core.model.loading import load_model
from workbench.core.shapes.dims import ProbeRun
from workbench.core.shapes.probe import Prober

MODEL = load_model(CORPUS / "segmenter_dynamo.onnx")
[IMAGE] = [value.name for value in MODEL.proto.graph.input]


@pytest.fixture
def prober():
    probe = Prober(MODEL, {}, 0, math.inf, None)
    yield probe
    probe.close()


def _ran(prober: Prober, height: int, width: int, seconds: float, ok: bool = True) -> None:
    prober.runs.append(ProbeRun({IMAGE: (1, 3, height, width)}, ok, seconds=seconds))


def _left(prober: Prober, seconds: float) -> None:
    prober.deadline = time.perf_counter() + seconds


def test_time_grows_as_the_runs_show_and_a_run_past_the_deadline_is_not_started(prober):
    _ran(prober, 256, 256, 0.25)
    _ran(prober, 512, 256, 1.0)  # twice the size, four times the time: quadratic
    _left(prober, 3.5)
    why = prober.overrun({IMAGE: (1, 3, 1024, 256)})  # ~4 s predicted
    assert "~4.0 s" in why and "took 1.0 s" in why and "left of the probe's time budget" in why
    assert prober.overrun({IMAGE: (1, 3, 512, 384)}) == ""  # ~2.25 s fits


def test_growth_is_taken_as_at_least_linear_and_at_most_quadratic(prober):
    _ran(prober, 256, 256, 1.0)
    _ran(prober, 512, 256, 1.0)  # no growth measured (start-up costs): still linear
    _left(prober, 1.9)
    assert "~2.0 s" in prober.overrun({IMAGE: (1, 3, 1024, 256)})
    prober.runs.clear()
    _ran(prober, 256, 256, 0.1)
    _ran(prober, 512, 256, 1.0)  # tenfold: taken as quadratic
    _left(prober, 3.9)
    assert "~4.0 s" in prober.overrun({IMAGE: (1, 3, 1024, 256)})


def test_without_a_run_that_succeeded_or_for_a_shape_already_run_nothing_is_refused(prober):
    _ran(prober, 256, 256, 5.0, ok=False)  # failures say nothing about time
    _left(prober, 0.1)
    assert prober.overrun({IMAGE: (1, 3, 1024, 1024)}) == ""
    _ran(prober, 512, 256, 1.0)
    prober.cache[(IMAGE, (1, 3, 1024, 256)),] = ProbeRun({IMAGE: (1, 3, 1024, 256)}, True)
    assert prober.overrun({IMAGE: (1, 3, 1024, 256)}) == ""  # answered from the earlier run
    assert prober.overrun({IMAGE: (1, 3, 1024, 512)}) != ""
