"""What each input of a real export is (roles from the graph first, the name second) and the values it may take,
checked against the corpus catalogue: roles, value domains, switches and recurrent states."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from tests.corpus.catalog import CATALOG
from tests.corpus.perturb import renamed_inputs_copy, with_side_files
from workbench.core.model.constant_values import ConstantValues
from workbench.core.model.input_roles import InputRole, input_meanings
from workbench.core.model.loading import load_model

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
WITH_ROLES = [name for name, entry in CATALOG.items() if "roles" in entry]
WITH_DOMAINS = [name for name, entry in CATALOG.items() if "value_domains" in entry]
SWITCHES = [(name, entry["facts"][fact]["input"]) for name, entry in CATALOG.items()
            for fact in ("switch", "bool_switch") if fact in entry["facts"]]
STATES = [(name, state) for name, entry in CATALOG.items() for state in entry["facts"].get("state", {})]
# Convolutional networks over RGB images (the catalogue's descriptions): their rank-4 input is the image.
IMAGE_FAMILIES = {"classifier", "segmentation", "ocr-detection", "ocr-recognition", "detection", "groupnorm",
                  "embedding", "if-switch", "cnn-with-data-dependent-op"}
IMAGES = [(name, next(i for i, shape in entry["inputs"].items() if len(shape) == 4))
          for name, entry in CATALOG.items() if entry["family"] in IMAGE_FAMILIES]
NAMED = "named '"  # how a reason says the input's name decided


@pytest.mark.parametrize("name", WITH_ROLES)
def test_every_catalogued_role_is_found_with_a_reason(name):
    model = load_model(CORPUS / name)
    meanings = input_meanings(model)
    roles = CATALOG[name]["roles"]
    found = {input_name: meanings[input_name].role.name.lower() for input_name in roles}
    assert found == roles, {n: meanings[n].reason for n in roles if found[n] != roles[n]}
    assert list(meanings) == [t.name for t in model.summary().inputs]  # every graph input, in order
    assert all(meaning.reason for meaning in meanings.values())


@pytest.mark.parametrize(("name", "switch"), SWITCHES, ids=[f"{n}-{s}" for n, s in SWITCHES])
def test_inputs_that_decide_a_branch_are_switches(name, switch):
    model = load_model(CORPUS / name)
    meanings = input_meanings(model)
    assert meanings[switch].role is InputRole.SWITCH and "If '" in meanings[switch].reason
    assert [n for n, m in meanings.items() if m.role is InputRole.SWITCH] == [switch]
    if next(t for t in model.summary().inputs if t.name == switch).dtype == "bool":
        assert (meanings[switch].low, meanings[switch].high) == (0, 1)  # a bool switch: both values are real


@pytest.mark.parametrize(("name", "state"), STATES, ids=[f"{n}-{s}" for n, s in STATES])
def test_recurrent_states_are_found_by_the_layer_they_start(name, state):
    meaning = input_meanings(load_model(CORPUS / name))[state]
    assert meaning.role is InputRole.STATE and "the initial state of GRU" in meaning.reason


@pytest.mark.parametrize(("name", "image"), IMAGES, ids=[n for n, _i in IMAGES])
def test_images_are_found_by_the_conv_that_reads_them(name, image):
    meaning = input_meanings(load_model(CORPUS / name))[image]
    assert meaning.role is InputRole.IMAGE and "read by Conv" in meaning.reason, meaning.reason


@pytest.mark.parametrize("name", WITH_DOMAINS)
def test_bounded_values_lie_inside_the_catalogued_domains(name):
    """Where the graph bounds an input's values, the bound lies inside what the model accepts (one value
    outside fails under onnxruntime: tests/corpus/test_corpus.py checks the domains themselves). Rotary position
    ids have no table: their values follow the cache (tests/core/compare/test_input_values.py)."""
    meanings = input_meanings(load_model(CORPUS / name))
    for input_name, (low, high) in CATALOG[name]["value_domains"].items():
        meaning = meanings[input_name]
        if meaning.high is None:
            assert meaning.role is InputRole.POSITION_IDS and "rotary" in meaning.reason, meaning.reason
            continue
        assert low <= meaning.low <= meaning.high <= high, meaning.reason
        assert meaning.table in meaning.reason or meaning.role in (InputRole.ATTENTION_MASK, InputRole.POINT_LABELS)


def test_the_failing_table_is_the_one_named():
    """BERT's token type ids fail at 2 in the token-type Gather (catalogue): the meaning names that Gather."""
    name = "bert_optimum/model.onnx"
    meanings = input_meanings(load_model(CORPUS / name))
    for input_name, _bad, where in CATALOG[name]["facts"]["fails_outside_domain"]:
        assert where in meanings[input_name].table and "2-row table" in meanings[input_name].reason


@pytest.mark.parametrize("name", WITH_ROLES)
def test_what_the_graph_says_survives_meaningless_input_names(name, tmp_path):
    """Graph evidence beats names: with every input renamed 'i0', 'i1'…, each role the graph decided stays."""
    original = input_meanings(load_model(CORPUS / name))
    names = {input_name: f"i{index}" for index, input_name in enumerate(original)}
    renamed_inputs_copy(CORPUS / name, with_side_files(name, tmp_path), names)
    renamed = input_meanings(load_model(tmp_path / Path(name).name))
    from_graph = {n: m.role for n, m in original.items() if NAMED not in m.reason}
    assert {n: renamed[names[n]].role for n in from_graph} == from_graph
    if name in ("bert_optimum/model.onnx", "gpt2_kv_optimum/model.onnx"):
        assert set(from_graph) == set(original)  # every role of these two is graph evidence


def test_tables_are_measured_without_reading_the_weights(tmp_path):
    """A weight-free model (weights on disk as external data) gives the same meanings: rows are the table's shape."""
    name = "bert_optimum/model.onnx"
    proto = onnx.load(str(CORPUS / name))
    onnx.save(proto, str(tmp_path / "model.onnx"), save_as_external_data=True, location="weights.bin",
              size_threshold=1024)
    external = load_model(tmp_path / "model.onnx")
    assert external.references_weights
    meanings = input_meanings(external)
    assert meanings == input_meanings(load_model(CORPUS / name))
    table = next(n.input[0] for n in external.proto.graph.node if n.name in meanings["input_ids"].table)
    assert ConstantValues(external.proto).get(table) is None  # its values stay on disk


def test_meanings_are_cached_per_model_and_serialisable():
    path = CORPUS / "gpt2_kv_optimum" / "model.onnx"
    model = load_model(path)
    assert input_meanings(model) is input_meanings(model)
    again = load_model(path)
    assert input_meanings(again) is not input_meanings(model) and input_meanings(again) == input_meanings(model)
    data = json.loads(json.dumps([m.to_dict() for m in input_meanings(model).values()]))
    assert {d["role"] for d in data} == {"token ids", "KV cache", "attention mask", "position ids"}
    assert all(d["past_axis"] == 2 for d in data if d["role"] == "KV cache")
