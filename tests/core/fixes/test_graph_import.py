"""onnx-graphsurgeon graphs of models that keep weights on disk read those weights from the model's folder."""

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnx import external_data_helper, numpy_helper

from tests.conftest import ROOT
from workbench.core.fixes.graph_tools import export_model, import_graph
from workbench.core.model.loading import load_model

MLP = ROOT / "tests" / "corpus" / "external_data" / "mlp_external.onnx"


def test_weights_in_a_data_file_are_read_from_the_model_folder_whatever_the_working_directory(tmp_path, monkeypatch):
    expected = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(MLP)).graph.initializer}
    model = load_model(MLP)
    monkeypatch.chdir(tmp_path)  # graphsurgeon alone resolves external data here: "… is not regular file"
    graph = import_graph(model.proto, model.weights_dir)
    constants = {t.name: t for t in graph.tensors().values() if isinstance(t, gs.Constant)}
    assert set(constants) == set(expected)
    assert any(external_data_helper.uses_external_data(t) for t in model.proto.graph.initializer)
    for name, constant in constants.items():
        np.testing.assert_array_equal(constant.values, expected[name])
    # Read values are written inline; unread ones still point into the data file.
    exported = export_model(graph, model.proto)
    assert not any(external_data_helper.uses_external_data(t) for t in exported.graph.initializer)


def test_unread_weights_stay_references_into_the_data_file(tmp_path, monkeypatch):
    model = load_model(MLP)
    monkeypatch.chdir(tmp_path)
    exported = export_model(import_graph(model.proto, model.weights_dir), model.proto)
    on_disk = {t.name for t in exported.graph.initializer if external_data_helper.uses_external_data(t)}
    assert on_disk == {t.name for t in model.proto.graph.initializer if external_data_helper.uses_external_data(t)}
    assert on_disk
