"""ONNX's messages without the onnx package (``core/model/protos``): the same classes as onnx's, and the readings
that replace onnx's helpers (element types, external data, attribute values) agree with onnx's on real exports."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest
from onnx import external_data_helper, helper

from tests.conftest import CORPUS, ROOT
from workbench.core.model.loading import attribute_value, iter_nodes, load_model
from workbench.core.model.protos import (TensorProto, all_tensors, element_size, element_type_name, external_data_info,
                                         uses_external_data)

# In a fresh process: the messages come without onnx, and a later ``import onnx`` gives the very same classes,
# which onnx's own functions take.
FRESH_PROCESS = """
import json, sys
from workbench.core.model.loading import load_model
model = load_model(sys.argv[1])
model.summary()
before = sorted(name for name in ("onnx", "numpy", "ml_dtypes") if name in sys.modules)
import onnx
onnx.checker.check_model(model.full_proto())
print(json.dumps({"before": before, "same_class": type(model.proto) is onnx.ModelProto}))
"""


def test_the_messages_need_no_onnx_and_are_onnxs_own():
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(CORPUS / "text_detector_p2o.onnx")], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"before": [], "same_class": True}


@pytest.mark.skipif(tuple(int(part) for part in onnx.__version__.split(".")[:2]) < (1, 17),
                    reason="onnx before 1.17 maps bfloat16 and the float8 types to float32, its storage type")
def test_element_types_are_named_and_sized_as_onnx_and_numpy_do():
    for name, number in TensorProto.DataType.items():
        if number in (TensorProto.UNDEFINED, TensorProto.STRING):
            continue
        dtype = helper.tensor_dtype_to_np_dtype(number)
        assert (element_type_name(number), element_size(number)) == (str(dtype), dtype.itemsize), name


def test_external_data_is_read_as_onnx_reads_it():
    model = load_model(CORPUS / "external_data" / "mlp_external.onnx")
    ours = [(t.name, external_data_info(t)) for t in all_tensors(model.proto) if uses_external_data(t)]
    theirs = [(t.name, external_data_helper.ExternalDataInfo(t))
              for t in external_data_helper._get_all_tensors(model.proto) if external_data_helper.uses_external_data(t)]
    assert ours, "the model keeps its weights in a data file"
    assert [(name, info.location, info.offset, info.length) for name, info in ours] == \
        [(name, info.location, info.offset, info.length) for name, info in theirs]


@pytest.mark.parametrize("model", ["faster_rcnn_torchvision_ts.onnx", "if_cond_dynamo.onnx", "text_detector_p2o.onnx"])
def test_attribute_values_are_onnxs(model):
    """Every attribute of real exports (nested bodies, tensors, graphs, lists and strings included)."""
    proto = load_model(CORPUS / model).proto
    attributes = [attr for node, _ in iter_nodes(proto.graph) for attr in node.attribute]
    assert attributes
    for attr in attributes:
        assert attribute_value(attr) == helper.get_attribute_value(attr), attr.name
