"""The shape probe cannot take the machine's memory: onnxruntime's arena is capped at the probe's limit, so a run
whose intermediate sizes shape inference cannot see (a diffusion UNet's attention, quadratic in the latent's area)
stops at the cap and the search walks down, saying why."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

UNET = ROOT / "tests" / "corpus" / "sd_unet_optimum" / "model.onnx"

# Run in a process of its own: onnxruntime's arena is process-wide, capped by the first probe of the process.
_SCRIPT = """
import json, sys, threading, time
import psutil
from workbench.core.model.loading import load_model
from workbench.core.shapes.suggest import suggest_shapes
peak = [0]
def watch():
    me = psutil.Process()
    while True:
        peak[0] = max(peak[0], me.memory_info().rss)
        time.sleep(0.01)
threading.Thread(target=watch, daemon=True).start()
# Time is not what this test is about: a budget no run here exhausts, so every size is tried until memory stops it
# (within the default 8 s budget a busy machine may skip a size for time instead, and say so).
suggestion = suggest_shapes(load_model(sys.argv[1]), budget_seconds=600)
print(json.dumps({"peak": peak[0], "dims": {d.label: [d.min, d.opt, d.max, d.reason] for d in suggestion.dims}}))
"""


def test_a_probe_stops_at_its_memory_limit_and_says_so():
    limit = 3 * 1024 ** 3  # the probe may use half of it
    env = {**os.environ, "TRT_WORKBENCH_MEMORY_LIMIT": str(limit), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(UNET)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    reply = json.loads(done.stdout.splitlines()[-1])
    # 64×64 latents (a 512-pixel image) run within 1.5 GB; 128 asks one attention MatMul for 8 GB.
    for label in ("height", "width"):
        low, opt, high, reason = reply["dims"][label]
        assert opt == 64 and high < 128, reply["dims"][label]
        assert "memory limit of 1.5 GB" in reason, reason
    # The process stayed within the limit it was given (the weights and Python itself included).
    assert reply["peak"] < limit, reply["peak"] / 1024 ** 3


_CHECK_SCRIPT = """
import json, sys
from workbench.core.model.loading import load_model
from workbench.core.shapes.profile_check import probe_profiles
from workbench.core.shapes.profiles import Profile, ShapeRange
profile = Profile({"sample": ShapeRange((1, 4, 32, 32), (1, 4, 64, 64), (1, 4, 128, 128)),
                   "encoder_hidden_states": ShapeRange((1, 77, 32), (1, 77, 32), (1, 77, 32))})
print(json.dumps([c.to_dict() for c in probe_profiles(load_model(sys.argv[1]), [profile])]))
"""


def test_a_profile_row_the_probe_cannot_afford_is_not_checked_rather_than_failed():
    """1024-pixel images (128×128 latents) are a real Stable-Diffusion workload TensorRT runs; onnxruntime on this
    machine's memory cannot: the check says the row was not run here, it does not call it a failure."""
    env = {**os.environ, "TRT_WORKBENCH_MEMORY_LIMIT": str(3 * 1024 ** 3), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _CHECK_SCRIPT, str(UNET)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    sample = next(c for c in json.loads(done.stdout.splitlines()[-1]) if c["input"] == "sample")
    assert sample["ok"] and not sample["checked"]
    assert list(sample["unchecked"]) == ["max"] and "memory limit of 1.5 GB" in sample["unchecked"]["max"]
    assert "runs under onnxruntime at min" in sample["text"] and "not checked at max" in sample["text"]
