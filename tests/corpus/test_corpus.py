"""The corpus of real exports: files present and valid, catalogue true to the files, models run."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.corpus.catalog import CATALOG
from tests.corpus.perturb import perturbed_copy

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parent
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 48 * 1024 * 1024
ORT_QUIET = 4  # onnxruntime log severity FATAL: errors are raised as exceptions, not printed

NAMES = sorted(CATALOG)


def declared_shape(value: onnx.ValueInfoProto) -> list:
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in value.type.tensor_type.shape.dim]


def model_files(name: str) -> list[Path]:
    """The .onnx file and its external data file, if any."""
    path = CORPUS / name
    data = CATALOG[name]["facts"].get("external_data")
    return [path] + ([path.parent / data] if data else [])


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = ORT_QUIET
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@functools.cache
def corpus_session(name: str) -> ort.InferenceSession:
    """One session per corpus model for the whole file (a session keeps no state from one run to the next)."""
    return session(CORPUS / name)


ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_}


def feeds_for(sess: ort.InferenceSession, shapes: dict, values: dict, seed: int = 0, domains: dict | None = None,
              past: int = 0) -> dict:
    """At the catalogue's shapes: the given values (scalar switches, bool inputs), integers inside the input's
    value domain ([low, high] inclusive; position ids after ``past`` cached tokens), random normal floats for
    the rest."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in sess.get_inputs():
        dtype = ORT_TYPES[info.type]
        shape = shapes[info.name]
        if info.name in values:
            feeds[info.name] = np.full(shape, values[info.name], dtype=dtype)
        elif "position" in info.name and domains and info.name in domains:
            feeds[info.name] = np.broadcast_to(np.arange(past, past + shape[-1]), shape).astype(dtype)
        elif domains and info.name in domains:
            low, high = domains[info.name]
            feeds[info.name] = rng.integers(low, high, shape, endpoint=True).astype(dtype)
        else:
            feeds[info.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def _past(shapes: dict) -> int:
    """Cached tokens at these shapes: a KV-cache input's past axis (0 when the model has none)."""
    return next((shape[2] for name, shape in shapes.items() if name.startswith("past_key_values")
                 and ".encoder." not in name), 0)


def entry_feeds(name: str, shapes: dict, values: dict | None = None) -> tuple[ort.InferenceSession, dict]:
    """A session of the catalogued model and feeds at ``shapes``, inside the entry's value domains."""
    entry = CATALOG[name]
    sess = corpus_session(name)
    return sess, feeds_for(sess, shapes, entry.get("values", {}) if values is None else values,
                           domains=entry.get("value_domains"), past=_past(shapes))


def test_sizes_fit_the_budget():
    sizes = {f: f.stat().st_size for name in NAMES for f in model_files(name)}
    assert all(size <= MAX_FILE_BYTES for size in sizes.values()), sizes
    assert sum(sizes.values()) <= MAX_TOTAL_BYTES


def test_every_onnx_file_is_catalogued():
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.onnx")}
    assert on_disk == set(CATALOG)


def test_every_exporter_is_represented():
    assert {entry["exporter"] for entry in CATALOG.values()} >= {"torchscript", "dynamo", "optimum", "ultralytics"}


@pytest.mark.parametrize("name", NAMES)
def test_model_is_valid_and_matches_catalogue(name):
    path = CORPUS / name
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    entry = CATALOG[name]
    assert model.ir_version <= 8, "older onnxruntime versions must load the corpus"
    initializer_names = {init.name for init in model.graph.initializer}
    declared = {v.name: declared_shape(v) for v in model.graph.input if v.name not in initializer_names}
    assert declared == entry["inputs"]
    assert set(entry["realistic"]) == set(declared)
    if name.endswith("_p2o.onnx"):  # paddle2onnx writes every weight as a Constant node
        assert not model.graph.initializer
    for tensor in entry["facts"].get("raw_outputs", []):
        assert any(tensor in node.output for node in model.graph.node), tensor
    written = {prop.key: prop.value for prop in model.metadata_props}
    assert {key: written.get(key) for key in entry.get("metadata", {})} == entry.get("metadata", {})
    assert all((path.parent / side_file).is_file() for side_file in entry.get("side_files", []))
    value_info_names = [value.name for value in model.graph.value_info]
    assert (len(set(value_info_names)) < len(value_info_names)) == entry["facts"].get("duplicate_value_info", False)
    for workload in entry.get("workloads", {}).values():
        assert set(workload) == set(declared)
    assert set(entry.get("roles", declared)) == set(declared)


@pytest.mark.parametrize("name", NAMES)
def test_model_runs_at_realistic_shapes_and_perturbation_shows(name, tmp_path):
    sess, feeds = entry_feeds(name, CATALOG[name]["realistic"])
    outputs = sess.run(None, feeds)
    assert_outputs_meaningful(outputs)

    perturbed = tmp_path / Path(name).name  # beside nothing: the copy is one file
    perturbed_copy(CORPUS / name, perturbed)
    changed = session(perturbed).run(None, feeds)
    assert any(a.shape != b.shape or not np.allclose(a, b, rtol=1e-3, atol=1e-5) for a, b in zip(outputs, changed))


def assert_outputs_meaningful(outputs: list) -> None:
    assert all(np.isfinite(out).all() for out in outputs if out.dtype.kind == "f")
    assert any(out.size and np.ptp(out) > 0 for out in outputs), "outputs are degenerate"


WORKLOADS = [(name, workload) for name in NAMES for workload in CATALOG[name].get("workloads", {})]


@pytest.mark.parametrize(("name", "workload"), WORKLOADS, ids=[f"{n}-{w}" for n, w in WORKLOADS])
def test_workload_points_run(name, workload):
    """The points a deployment runs (a decoder's prefill with an empty cache, its decode step) run under
    onnxruntime at the catalogued shapes, with values inside their domains, and say something."""
    entry = CATALOG[name]
    values = {**entry.get("values", {}), **entry.get("workload_values", {}).get(workload, {})}
    sess, feeds = entry_feeds(name, entry["workloads"][workload], values)
    assert_outputs_meaningful(sess.run(None, feeds))


OUTSIDE_DOMAIN = [(name, case) for name in NAMES for case in CATALOG[name]["facts"].get("fails_outside_domain", [])]


@pytest.mark.parametrize(("name", "case"), OUTSIDE_DOMAIN, ids=[f"{n}-{c[0]}={c[1]}" for n, c in OUTSIDE_DOMAIN])
def test_values_outside_the_domain_fail(name, case):
    value, bad_value, message = case
    sess, feeds = entry_feeds(name, CATALOG[name]["realistic"])
    feeds[value] = np.full_like(feeds[value], bad_value)
    with pytest.raises(Exception, match=message):
        sess.run(None, feeds)


FAILING = [(name, case) for name in NAMES for case in CATALOG[name]["facts"].get("fails_at", [])]


@pytest.mark.parametrize(("name", "case"), FAILING, ids=[f"{n}-{c[0]}" for n, c in FAILING])
def test_catalogued_failures_are_real(name, case):
    shapes, values, message = case
    sess, feeds = entry_feeds(name, shapes, values)
    with pytest.raises(Exception, match=message):  # values inside their domains: the shape alone fails
        sess.run(None, feeds)


def _at_trained_size(entry: dict, input_name: str, axis: int, size: int) -> dict:
    """The realistic shapes with ``input_name[axis]`` at ``size``: every input axis of the same dim name follows;
    an axis named 'past + new' (Optimum's mask) gets there by the cache's past (new stays as realistic)."""
    shapes = {name: list(shape) for name, shape in entry["realistic"].items()}
    dim = entry["inputs"][input_name][axis]
    if not isinstance(dim, str):
        assert dim == size, f"{input_name}[{axis}] is declared {dim}"
        return shapes
    past_name, _, new_name = dim.partition(" + ")
    new = next((shape[i] for name, shape in shapes.items() for i, d in enumerate(entry["inputs"][name])
                if d == new_name), 0) if new_name else 0
    for name, declared in entry["inputs"].items():
        for i, d in enumerate(declared):
            if d == dim:
                shapes[name][i] = size
            elif d == past_name:
                shapes[name][i] = size - new
    return shapes


TRAINED = [(name, input_name, axis, size) for name in NAMES
           for input_name, axes in CATALOG[name]["facts"].get("trained_size", {}).items()
           for axis, size in axes.items()]


@pytest.mark.parametrize(("name", "input_name", "axis", "size"), TRAINED)
def test_model_runs_at_its_trained_size(name, input_name, axis, size):
    """The size a position table or the config states runs (fails_at cases show what lies past it)."""
    entry = CATALOG[name]
    shapes = _at_trained_size(entry, input_name, axis, size)
    assert shapes[input_name][axis] == size
    sess, feeds = entry_feeds(name, shapes)
    assert_outputs_meaningful(sess.run(None, feeds))


@pytest.mark.parametrize("name", [n for n in NAMES if "runs_only_at" in CATALOG[n]["facts"]])
def test_baked_reshape_carries_the_traced_size(name):
    """The Reshape named in the catalogue takes its shape from a Concat whose first part is the constant."""
    baked = CATALOG[name]["facts"]["baked_reshape"]
    model = onnx.load(str(CORPUS / name))
    producer = {out: node for node in model.graph.node for out in node.output}
    reshape = next(node for node in model.graph.node if node.name == baked["node"])
    concat = producer[reshape.input[1]]
    first = producer[concat.input[0]]
    assert first.op_type == "Constant"
    assert onnx.numpy_helper.to_array(first.attribute[0].t).tolist() == [baked["shape"][0]]


MINIMA = [(name, value, axis, least) for name in NAMES
          for value, axes in CATALOG[name]["facts"].get("min", {}).items() for axis, least in axes.items()]


@pytest.mark.parametrize(("name", "value", "axis", "least"), MINIMA)
def test_catalogued_minimum_is_the_least_size_that_runs(name, value, axis, least):
    entry = CATALOG[name]
    shapes = dict(entry["realistic"])
    for size in (least, least - 1):
        shapes[value] = list(entry["realistic"][value])
        shapes[value][axis] = size
        sess, feeds = entry_feeds(name, shapes)
        if size == least:
            sess.run(None, feeds)
        else:
            with pytest.raises(Exception):  # noqa: B017 - onnxruntime raises one of several types
                sess.run(None, feeds)


def test_pytorch_groupnorm_export_keeps_its_constants_in_constant_nodes():
    """The pattern a GroupNorm fusion must recognise: Reshape([0, groups, -1]) → InstanceNormalization
    whose shape, scale and bias come from Constant nodes (not initializers)."""
    facts = CATALOG["groupnorm_ts.onnx"]["facts"]
    model = onnx.load(str(CORPUS / "groupnorm_ts.onnx"))
    producer = {out: node for node in model.graph.node for out in node.output}
    norms = [node for node in model.graph.node if node.op_type == "InstanceNormalization"]
    assert len(norms) == facts["groupnorm_count"]
    for norm in norms:
        reshape = producer[norm.input[0]]
        assert reshape.op_type == "Reshape"
        group_shape = producer[reshape.input[1]]
        assert group_shape.op_type == "Constant"
        assert onnx.numpy_helper.to_array(group_shape.attribute[0].t).tolist() == [0, facts["groups"], -1]
        assert all(producer[name].op_type == "Constant" for name in norm.input[1:])


@pytest.mark.parametrize("name", [n for n in NAMES if "switch" in CATALOG[n]["facts"]])
def test_switch_input_is_compared_with_the_catalogued_constant_for_an_if(name):
    switch = CATALOG[name]["facts"]["switch"]
    model = onnx.load(str(CORPUS / name))
    producer = {out: node for node in model.graph.node for out in node.output}
    initializers = {init.name: init for init in model.graph.initializer}
    compare = next(node for node in model.graph.node if switch["input"] in node.input)
    other = next(name for name in compare.input if name != switch["input"])
    constant = initializers.get(other) or producer[other].attribute[0].t
    assert onnx.numpy_helper.to_array(constant).tolist() == switch["compared_with"]
    assert any(node.op_type == "If" for node in model.graph.node)


@pytest.mark.parametrize("name", [n for n in NAMES if "state" in CATALOG[n]["facts"]])
def test_state_input_has_the_catalogued_layout(name):
    entry = CATALOG[name]
    for value, layout in entry["facts"]["state"].items():
        shape = entry["inputs"][value]
        assert shape[0] == layout["layers"] and shape[-1] == layout["hidden"]
        assert isinstance(shape[layout["batch_axis"]], str)


@pytest.mark.parametrize("name", [n for n in NAMES if CATALOG[n].get("side_files")])
def test_side_files_sit_beside_the_model(name):
    for side_file in CATALOG[name]["side_files"]:
        assert (CORPUS / name).parent.joinpath(side_file).is_file(), side_file


MULTIPLES = [(name, value, axis, step) for name in NAMES
             for value, axes in CATALOG[name]["facts"].get("multiple_of", {}).items() for axis, step in axes.items()]


@pytest.mark.parametrize(("name", "value", "axis", "step"), MULTIPLES)
def test_the_next_multiple_runs(name, value, axis, step):
    shapes = dict(CATALOG[name]["realistic"])
    shapes[value] = list(shapes[value])
    shapes[value][axis] += step
    sess, feeds = entry_feeds(name, shapes)
    assert_outputs_meaningful(sess.run(None, feeds))


@pytest.mark.parametrize("name", [n for n in NAMES if "position_table" in CATALOG[n]["facts"]])
def test_position_table_has_the_catalogued_grid(name):
    """The table holds grid × grid patch positions (+ 1 for the class token where the export kept it together),
    and grid × patch is the trained size."""
    table = CATALOG[name]["facts"]["position_table"]
    model = onnx.load(str(CORPUS / name))
    tensors = {init.name: init for init in model.graph.initializer}
    tensors.update({node.output[0]: node.attribute[0].t for node in model.graph.node if node.op_type == "Constant"})
    assert list(tensors[table["tensor"]].dims) == table["shape"]
    assert table["shape"][1] in (table["grid"] ** 2, table["grid"] ** 2 + 1)
    trained = CATALOG[name]["facts"]["trained_size"]
    assert all(size == table["grid"] * table["patch"] for axes in trained.values() for size in axes.values())
