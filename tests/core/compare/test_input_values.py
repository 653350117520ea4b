"""Values the input maker draws follow what each input is, on real exports: inside the tables they index at every
workload point (position ids count on from the cache), runnable under onnxruntime, their reasons shown; and
``compare`` of a model against itself passes, while a change in either branch of a bool switch fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.corpus.catalog import CATALOG
from tests.corpus.perturb import perturbed_branch_copy, renamed_inputs_copy, with_side_files
from workbench.cli import main
from workbench.core.compare.inputs import InputSpec, make_inputs, random_inputs
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.model.input_roles import InputRole, input_meanings
from workbench.core.model.loading import load_model

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
POINTS = [(name, workload) for name, entry in CATALOG.items() if "value_domains" in entry
          for workload in entry.get("workloads", {})]


def cached_tokens(model, shapes: dict) -> int:
    """The past of a step at ``shapes``: what a self-attention KV cache holds on its past axis (0 without one)."""
    caches = [m for m in input_meanings(model).values() if m.role is InputRole.KV_CACHE and m.past_axis is not None]
    return shapes[caches[0].name][caches[0].past_axis] if caches else 0


@pytest.mark.parametrize(("name", "workload"), POINTS, ids=[f"{n}-{w}" for n, w in POINTS])
def test_drawn_values_stay_inside_their_domains_and_run_at_every_workload_point(name, workload):
    entry = CATALOG[name]
    model = load_model(CORPUS / name)
    shapes = {input_name: tuple(shape) for input_name, shape in entry["workloads"][workload].items()}
    switches = {n: (float(v), float(v)) for n, v in entry.get("workload_values", {}).get(workload, {}).items()}
    past = cached_tokens(model, shapes)
    positions = [n for n, m in input_meanings(model).items() if m.role is InputRole.POSITION_IDS]
    with OnnxruntimeRunner(model) as runner:
        for seed in range(3):
            feeds = random_inputs(model, seed, shapes=shapes, value_ranges=switches)
            for input_name, (low, high) in entry["value_domains"].items():
                assert low <= feeds[input_name].min() and feeds[input_name].max() <= high, (input_name, seed)
            for input_name in positions:  # a step after `past` cached tokens
                assert np.array_equal(feeds[input_name][0], np.arange(past, past + shapes[input_name][-1]))
            outputs = runner.run(feeds)
            assert all(np.isfinite(out).all() for out in outputs.values() if out.dtype.kind == "f")


def test_the_sources_say_why_each_value_was_chosen():
    model = load_model(CORPUS / "gpt2_kv_optimum" / "model.onnx")
    prepared = make_inputs(model, InputSpec(seed=0))
    meanings = input_meanings(model)
    assert meanings["input_ids"].reason in prepared.sources["input_ids"]
    assert "1000-row table" in prepared.sources["input_ids"]
    assert np.all(prepared.arrays["attention_mask"] == 1) and "all ones" in prepared.sources["attention_mask"]
    past = prepared.arrays["attention_mask"].shape[1] - prepared.arrays["input_ids"].shape[1]
    assert f"counting from {past}" in prepared.sources["position_ids"]
    assert prepared.arrays["position_ids"][0, 0] == past == cached_tokens(model, {n: a.shape for n, a in
                                                                              prepared.arrays.items()})


def test_values_the_user_gives_win():
    model = load_model(CORPUS / "gpt2_kv_optimum" / "model.onnx")
    spec = InputSpec(seed=0, value_ranges={"position_ids": (5, 5), "attention_mask": (0, 1)})
    prepared = make_inputs(model, spec)
    assert np.all(prepared.arrays["position_ids"] == 5) and "counting" not in prepared.sources["position_ids"]
    assert set(np.unique(prepared.arrays["attention_mask"])) == {0, 1}


def _compare(reference: Path, other: Path, capsys) -> tuple[int, dict]:
    code = main(["compare", str(reference), "--against", str(other), "--json"])
    return code, json.loads(capsys.readouterr().out)


ENCODERS = [name for name, entry in CATALOG.items() if "token_type_ids" in entry.get("roles", {}).values()]


@pytest.mark.parametrize("name", ENCODERS)
def test_an_encoder_whose_inputs_say_nothing_compares_against_itself(name, tmp_path, capsys):
    """BERT (Optimum's and torch.onnx.export's) with its inputs renamed 'i0', 'i1'…: the tables and the mask's use
    still bound the values (the old 0..8 failed in the 2-row token-type Gather), so compare runs and passes."""
    copy = with_side_files(name, tmp_path)
    names = {n: f"i{k}" for k, n in enumerate(CATALOG[name]["inputs"])}
    renamed_inputs_copy(CORPUS / name, copy, names)
    code, reply = _compare(copy, copy, capsys)
    assert code == 0 and reply["verdict"] == "PASS", reply.get("error")
    sources = {entry["name"]: entry["source"] for entry in reply["inputs"]}
    roles = {role: names[n] for n, role in CATALOG[name]["roles"].items()}
    assert "2-row table" in sources[roles["token_type_ids"]] and "all ones" in sources[roles["attention_mask"]]


@pytest.mark.parametrize("branch", ["then_branch", "else_branch"])
def test_a_change_in_either_branch_of_a_bool_switch_of_any_name_fails_compare(branch, tmp_path, capsys):
    """The merged decoder's switch renamed 'flag' (no name says 'cache'): as the condition of an If it is a switch,
    compare runs both of its values, and a change in one branch alone fails."""
    name = "whisper_optimum/decoder_model_merged.onnx"
    switch = CATALOG[name]["facts"]["bool_switch"]["input"]
    source = with_side_files(name, tmp_path)
    renamed_inputs_copy(CORPUS / name, source, {switch: "flag"})
    changed = tmp_path / "changed" / source.name
    changed.parent.mkdir()
    perturbed_branch_copy(source, with_side_files(name, changed.parent), branch)
    assert input_meanings(load_model(source))["flag"].role is InputRole.SWITCH
    code, reply = _compare(source, changed, capsys)
    assert code == 1 and reply["verdict"] == "FAIL", reply.get("error")
