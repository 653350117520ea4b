"""What realistic shapes cost: the shape service (graph facts + onnxruntime probes) on a ResNet-50-sized
model with dynamic batch × height × width, on a transformer encoder with dynamic batch × seq and on a diffusion
UNet (dynamic latent height × width, whose suggestion the probe's time budget bounds).

Prints, per model: the suggestion's time (probes included, a fresh model each round so nothing is
cached), one onnxruntime run at the suggested opt shape (the baseline, measured in the same run), their
ratio and the number of probe runs; and for the ResNet-50-sized model the whole open → trial-build
path (load, parser analysis, suggestion, build) with the share the suggestion adds to it.

And for a decoder with KV cache (GPT-2 exported by Optimum, from the corpus): open → trial-built two-profile
engine (prefill + decode chosen by the shape service) against one trial build given the same two profiles
written by hand (the baseline), and the number of onnxruntime probe runs.

Run: ``.venv/bin/python benchmarks/bench_shapes.py``. Goals: the suggestion adds ≤ 25 % to open → trial
build on the 100 MB model; the decoder's open → two-profile build ≤ 1.5× the hand-written profiles' build.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import onnx  # noqa: E402

from benchmarks.resnet import make_resnet50  # noqa: E402
from workbench.core.analysis.support import analyze_support  # noqa: E402
from workbench.core.runtime import load_backend  # noqa: E402
from workbench.core.model.loading import load_model  # noqa: E402
from workbench.core.runners import OnnxruntimeRunner  # noqa: E402
from workbench.core.compare.timing import time_runner  # noqa: E402
from workbench.core.shapes.probe import DEFAULT_PROBE_BUDGET_SECONDS  # noqa: E402
from workbench.core.shapes.suggest import prefetch_shapes, suggest_shapes, suggested_feeds  # noqa: E402
from workbench.core.build.trial import trial_build  # noqa: E402
from workbench.core.shapes.profiles import Profile, ShapeRange  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TRANSFORMER = ROOT / "tests" / "corpus" / "transformer_dynamo.onnx"
DECODER = ROOT / "tests" / "corpus" / "gpt2_kv_optimum" / "model.onnx"
# A diffusion UNet whose attention makes a run at twice the latent's area ~4× as long: the probe's time budget is
# what bounds its suggestion.
UNET = ROOT / "tests" / "corpus" / "sd_unet_optimum" / "model.onnx"
# What an engineer would type for that decoder (config.json: n_positions 256): prefill and decode.
HAND_WRITTEN = {
    "prefill": {"batch_size": (1, 1, 1), "sequence_length": (1, 128, 256), "past_sequence_length": (0, 0, 0)},
    "decode": {"batch_size": (1, 1, 1), "sequence_length": (1, 1, 1), "past_sequence_length": (0, 127, 255)},
}
ROUNDS = 3
TRIAL_ROUNDS = 7  # open → trial build varies most with machine load: more rounds, medians


def dynamic_resnet(path: Path) -> Path:
    proto = make_resnet50()
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    onnx.save(proto, str(path))
    return path


def suggestion_vs_one_run(path: Path) -> tuple[float, float, int, str]:
    suggest_seconds, runs = [], 0
    for _ in range(ROUNDS):
        model = load_model(path)  # a fresh object: the suggestion is cached per model
        started = time.perf_counter()
        suggestion = suggest_shapes(model)
        suggest_seconds.append(time.perf_counter() - started)
        runs = len(suggestion.probes)
    runner = OnnxruntimeRunner(model)
    one_run = time_runner(runner, suggested_feeds(model, suggestion=suggestion), runs=ROUNDS, warmup=1)
    runner.close()
    shapes = "; ".join(d.text() for d in suggestion.dims)
    return statistics.median(suggest_seconds), one_run.median_ms / 1000, runs, shapes


def open_to_trial_build(path: Path, backend, probe: bool) -> float:
    """``analyze --build``'s path: load, the parser's analysis (with the shape probe running beside it),
    trial build; without ``probe`` the trial build gets the same profile handed in (the baseline)."""
    model = load_model(path)
    profile = suggest_shapes(model).profile()  # the same shapes for the baseline, computed outside the clock
    started = time.perf_counter()
    model = load_model(path)
    if probe:
        prefetch = prefetch_shapes(model)
        analyze_support(model, backend)
        prefetch.join()
        trial_build(model, backend=backend)
    else:
        analyze_support(model, backend)
        trial_build(model, [profile], backend=backend, suggest=False)
    return time.perf_counter() - started


def hand_written_profiles(model) -> list[Profile]:
    """The two profiles from ``HAND_WRITTEN``: each input's named dims substituted, the mask's ``past + seq``."""
    profiles = []
    for dims in HAND_WRITTEN.values():
        profile = Profile()
        for tensor in model.summary().inputs:
            ranges = []
            for which in range(3):
                values = {name: rng[which] for name, rng in dims.items()}
                ranges.append(tuple(d if isinstance(d, int) else
                                    values["past_sequence_length"] + values["sequence_length"] if "+" in d else
                                    values[d] for d in tensor.shape))
            profile.shapes[tensor.name] = ShapeRange(*ranges)
        profiles.append(profile)
    return profiles


def decoder_open_to_build(backend, probe: bool) -> tuple[float, int]:
    """Seconds from opening the decoder to its trial-built engine, and the probe runs it took."""
    started = time.perf_counter()
    model = load_model(DECODER)
    if probe:
        trial = trial_build(model, backend=backend)
        runs = len(trial.shapes.probes) if trial.shapes else 0
    else:
        trial = trial_build(model, hand_written_profiles(model), backend=backend, suggest=False)
        runs = 0
    assert trial.succeeded and len(trial.profiles) == 2, trial.describe()
    return time.perf_counter() - started, runs


def main() -> None:
    backend = load_backend()
    with tempfile.TemporaryDirectory() as folder:
        resnet = dynamic_resnet(Path(folder) / "resnet50_dynamic.onnx")
        print(f"ResNet-50-sized model: {resnet.stat().st_size / 1e6:.0f} MB, input [batch, 3, height, width]")
        for label, path in (("resnet50", resnet), ("transformer", TRANSFORMER), ("sd-unet", UNET)):
            suggest, run, probes, shapes = suggestion_vs_one_run(path)
            print(f"{label:12s} suggestion {suggest:.3f} s ({probes} probe runs; the probe's budget "
                  f"{DEFAULT_PROBE_BUDGET_SECONDS:.0f} s) vs one onnxruntime run {run:.3f} s = {suggest / run:.1f}x"
                  f"\n             {shapes}")
        with_probe, given = [], []
        for _ in range(TRIAL_ROUNDS):  # interleaved, so machine load hits both alike
            with_probe.append(open_to_trial_build(resnet, backend, probe=True))
            given.append(open_to_trial_build(resnet, backend, probe=False))
        probe, baseline = statistics.median(with_probe), statistics.median(given)
        print(f"open → trial build (resnet50): {probe:.2f} s with the probe beside the analysis vs {baseline:.2f} s "
              f"with the profile given = +{probe / baseline - 1:.0%} (goal ≤ 25 %)")
    with_service, by_hand, runs = [], [], 0
    for _ in range(TRIAL_ROUNDS):
        seconds, runs = decoder_open_to_build(backend, probe=True)
        with_service.append(seconds)
        by_hand.append(decoder_open_to_build(backend, probe=False)[0])
    service, hand = statistics.median(with_service), statistics.median(by_hand)
    print(f"decoder with KV cache, open → two-profile trial build: {service:.2f} s with the shape service "
          f"({runs} onnxruntime probe runs) vs {hand:.2f} s with hand-written prefill/decode profiles = "
          f"{service / hand:.2f}x (goal ≤ 1.5x)")


if __name__ == "__main__":
    main()
