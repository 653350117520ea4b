"""Profiles that cover the work the model exists for, on real exports (Optimum's decoders with KV cache, BERT,
Whisper): the catalogue's workload points lie inside the built profiles, integer inputs stay inside their
tables, relations hold, and comparisons see both branches of a merged decoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CORPUS, corpus_model
from tests.corpus.catalog import CATALOG
from tests.corpus.perturb import perturbed_branch_copy, with_side_files
from workbench.cli import main
from workbench.core.build.trial import trial_build
from workbench.core.compare.inputs import random_inputs
from workbench.core.repair import REPAIRED, repair_model
from workbench.core.shapes.suggest import suggest_shapes

pytestmark = pytest.mark.slow

WITH_WORKLOADS = [name for name, entry in CATALOG.items() if "workloads" in entry]
DECODERS = [name for name in WITH_WORKLOADS if CATALOG[name]["family"] == "decoder-kv-cache"]
WITH_DOMAINS = [name for name, entry in CATALOG.items() if "value_domains" in entry]


def covered(point: dict, profiles) -> bool:
    """Whether one profile takes every input of ``point`` (static inputs need no entry)."""
    return any(all(name not in profile.shapes or
                   all(low <= value <= high for low, value, high in
                       zip(profile.shapes[name].min, shape, profile.shapes[name].max))
                   for name, shape in point.items())
               for profile in profiles)


@pytest.mark.parametrize("name", WITH_WORKLOADS)
def test_suggested_profiles_cover_every_workload_point(name):
    suggestion = suggest_shapes(corpus_model(name))
    for workload, point in CATALOG[name]["workloads"].items():
        assert covered(point, suggestion.profiles()), (workload, suggestion.notes())
    assert not suggestion.assumed, [d.text() for d in suggestion.assumed]


@pytest.mark.parametrize("name", DECODERS)
def test_decoders_get_a_decode_profile_and_a_prefill_profile_unless_they_only_decode(name):
    suggestion = suggest_shapes(corpus_model(name))
    expected = list(CATALOG[name]["workloads"])
    assert [w.name for w in suggestion.workloads] == expected
    context = CATALOG[name]["facts"]["context"]
    past = next(d for d in suggestion.dims if "past" in d.label)
    assert past.max == context - 1 and "config.json" in past.reason  # the context the config states


@pytest.mark.parametrize("name", DECODERS)
def test_decoders_trial_build_with_profiles_that_cover_prefill_and_decode(name, backend):
    """A real TensorRT-RTX build; a builder that refuses the two profiles together gets one covering profile."""
    trial = trial_build(corpus_model(name), backend=backend)
    assert trial.succeeded, trial.describe()
    for workload, point in CATALOG[name]["workloads"].items():
        assert covered(point, trial.profiles), (workload, trial.describe())


def test_relations_the_exporter_wrote_hold_in_every_profile():
    """Optimum names the mask's length 'past_sequence_length + sequence_length': computed, never probed."""
    model = corpus_model("gpt2_kv_optimum/model.onnx")
    for profile in suggest_shapes(model).profiles():
        for which in ("min", "opt", "max"):
            shape = {name: rng.get(which) for name, rng in profile.shapes.items()}
            assert shape["attention_mask"][1] == shape["past_key_values.0.key"][2] + shape["input_ids"][1]


def test_the_encoder_length_comes_from_the_config_beside_the_model():
    suggestion = suggest_shapes(corpus_model("whisper_optimum/decoder_model_merged.onnx"))
    encoder = suggestion.dim_for("encoder_hidden_states", 1)
    assert (encoder.min, encoder.opt, encoder.max) == (1500, 1500, 1500) and "max_source_positions" in encoder.reason
    assert suggestion.dim_for("past_key_values.0.encoder.key", 2) is encoder  # cross-attention reads the same


@pytest.mark.parametrize("name", WITH_DOMAINS)
def test_random_inputs_stay_inside_the_tables_they_index(name):
    model = corpus_model(name)
    domains = CATALOG[name]["value_domains"]
    for seed in range(3):
        feeds = random_inputs(model, seed)
        for input_name, (low, high) in domains.items():
            assert feeds[input_name].min() >= low and feeds[input_name].max() <= high, (input_name, seed)


def _compare(reference: Path, other: Path, capsys) -> tuple[int, dict]:
    code = main(["compare", str(reference), "--against", str(other), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_bert_compares_against_itself(capsys):
    path = CORPUS / "bert_optimum" / "model.onnx"
    code, reply = _compare(path, path, capsys)
    assert code == 0 and reply["verdict"] == "PASS", reply.get("error")


@pytest.mark.parametrize("branch", ["then_branch", "else_branch"])
def test_a_change_in_either_branch_of_a_merged_decoder_fails_compare(branch, tmp_path, capsys):
    source = CORPUS / "whisper_optimum" / "decoder_model_merged.onnx"
    changed = with_side_files("whisper_optimum/decoder_model_merged.onnx", tmp_path)
    perturbed_branch_copy(source, changed, branch)
    code, reply = _compare(source, changed, capsys)
    assert code == 1 and reply["verdict"] == "FAIL", reply.get("error")


def test_repair_of_a_decoder_builds_profiles_that_cover_its_workloads(backend):
    name = "gpt2_kv_optimum/model.onnx"
    result = repair_model(corpus_model(name), backend=backend)
    assert result.status == REPAIRED, result.message
    for workload, point in CATALOG[name]["workloads"].items():
        assert covered(point, result.profiles), workload
