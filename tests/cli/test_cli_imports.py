"""What a plain ``trt-workbench analyze MODEL --json`` loads: every module is start-up time each command and
child process pays, so the libraries that analysis does not use must stay unloaded (issue 23: the parser once
imported every command's dependencies, and through onnx a slow ml_dtypes). The model's messages come from
``core/model/protos`` without the onnx package; onnx, NumPy and onnx-graphsurgeon load only for a model that has
what needs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import CORPUS, ROOT
from workbench.core.model.ir_versions import OLDEST_ONNXRUNTIME_MAX_IR
from workbench.core.model.protos import ModelProto
from workbench.core.onnxruntime_compat import CACHE_VARIABLE, runtime_limits

MODEL = CORPUS / "text_detector_p2o.onnx"
# Libraries of other commands (onnxruntime: compare, parity, the shape probe; onnxslim, onnxconverter-common:
# fixes and conversions; polygraphy: dev only), of the window (PySide6, pyqtgraph, netron) and of nobody (torch).
NOT_FOR_ANALYSIS = ("onnxruntime", "onnxslim", "onnxconverter_common", "polygraphy", "PySide6", "pyqtgraph",
                    "netron", "torch", "workbench.ui")
# What reading, summarising and checking a model needs none of: onnx (and through it NumPy and ml_dtypes) and the
# fixes' graph library.
MODEL_LIBRARIES = ("onnx", "numpy", "ml_dtypes", "onnx_graphsurgeon")
# Runs ``STATEMENT`` in a fresh process as ``python -c`` with ``argv`` = [listing file, ARGS…], then writes the
# names of the loaded modules and the statement's ``result`` to the listing file (stdout stays the command's).
LIST_MODULES = ("import json, sys\n"
                "{statement}\n"
                "open(sys.argv[1], 'w').write(json.dumps({{'result': result, 'modules': sorted(sys.modules)}}))\n")


def modules_after(tmp_path, statement: str, *args: str):
    listing = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", LIST_MODULES.format(statement=statement), str(listing), *args],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    listed = json.loads(listing.read_text())
    return listed["result"], set(listed["modules"])


def loaded(modules: set[str], package: str) -> bool:
    return package in modules or any(name.startswith(package + ".") for name in modules)


def analyze(tmp_path, model) -> tuple[dict, set[str]]:
    """The ``--json`` report of a plain analyze of ``model`` in a fresh process, and the modules it loaded."""
    report, modules = modules_after(tmp_path, "import contextlib, io\n"
                                              "from workbench.cli import main\n"
                                              "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
                                              "    main(sys.argv[2:])\n"
                                              "result = json.loads(out.getvalue())",
                                    "analyze", str(model), "--json", "--backend", "tensorrt-rtx")
    assert "workbench.core.analysis.support" in modules  # the analysis did run in this process
    return report, modules


def test_plain_analyze_loads_no_library_it_does_not_use(tmp_path):
    report, modules = analyze(tmp_path, MODEL)
    assert report["fully_supported"]  # the PaddleOCR detector parses in full
    assert [package for package in (*MODEL_LIBRARIES, *NOT_FOR_ANALYSIS) if loaded(modules, package)] == []


def test_detector_findings_need_no_model_library(tmp_path):
    """A model the detectors have much to say about (constants to fold, an input that switches the graph, dynamic
    inputs): they walk the proto, so still no onnx, NumPy or onnx-graphsurgeon."""
    report, modules = analyze(tmp_path, CORPUS / "audio_gain_switch_ts.onnx")
    assert {"foldable-constants", "control-input", "dynamic-input"} <= {p["kind"] for p in report["problems"]}
    assert [package for package in (*MODEL_LIBRARIES, *NOT_FOR_ANALYSIS) if loaded(modules, package)] == []


@pytest.mark.parametrize(("model", "kind", "may_load"), [
    # After a parser error each unsupported subgraph is cut out (onnx's Extractor, on shape-inferred types) and
    # parsed on its own: onnx, and NumPy (and with onnx ≥ 1.17 ml_dtypes), which onnx imports.
    ("mid_nonzero_ts.onnx", "unsupported-subgraph", ("onnx", "numpy", "ml_dtypes")),
    # The GroupNorm pattern is matched on onnx-graphsurgeon's graph, its constants read with NumPy.
    ("groupnorm_ts.onnx", "groupnorm-pattern", MODEL_LIBRARIES),
])
def test_a_finding_loads_only_what_it_needs(tmp_path, model, kind, may_load):
    report, modules = analyze(tmp_path, CORPUS / model)
    assert kind in {p["kind"] for p in report["problems"]}
    assert [package for package in MODEL_LIBRARIES if loaded(modules, package) and package not in may_load] == []
    assert [package for package in NOT_FOR_ANALYSIS if loaded(modules, package)] == []


def test_the_windows_analysis_child_loads_no_model_library(tmp_path):
    """The window analyses in a child process (``analysis_child``) that serves one model after another, and reads
    its own copy of the model: one analysis loads no model library on either side."""
    child_modules, modules = modules_after(
        tmp_path, "from workbench.core.analysis.background import analysis_child, load_and_analyze\n"
                  "child = analysis_child('tensorrt-rtx')\n"
                  "load_and_analyze(sys.argv[2], child, 'tensorrt-rtx')\n"
                  "result = child.call(eval, 'sorted(__import__(\"sys\").modules)')  # the child's, after it\n"
                  "child.close()", str(MODEL))
    assert "workbench.core.analysis.support" in child_modules  # the analysis ran there
    for side in (modules, set(child_modules)):
        assert [package for package in (*MODEL_LIBRARIES, "onnxruntime", "onnxslim") if loaded(side, package)] == []


def test_parsing_a_command_line_imports_no_command_dependencies(tmp_path):
    """The parser holds every command's options, some of them with defaults from the core (``convert``'s
    tolerances live with the precision conversion, which needs onnx): parsing one command's line registers that
    command's options only, and analyze's need nothing of the model libraries."""
    command, modules = modules_after(tmp_path, "from workbench.cli import build_parser\n"
                                               "result = build_parser(sys.argv[2]).parse_args(sys.argv[2:]).command",
                                     "analyze", str(MODEL), "--json")
    assert command == "analyze"
    assert [package for package in ("numpy", "onnx", "ml_dtypes", "tensorrt_rtx", *NOT_FOR_ANALYSIS)
            if loaded(modules, package)] == []


def test_a_model_newer_than_every_supported_onnxruntime_asks_the_installed_one_once(tmp_path, monkeypatch):
    """IR 14 is newer than the oldest supported onnxruntime reads, so the analysis asks the installed onnxruntime
    what it reads (importing it and onnx, ~0.2 s); the answer is kept in the user's cache folder, and the next
    analysis reads it from there: the same report, without onnxruntime, and without onnx unless this onnxruntime
    cannot read the model (then onnx's table of IR versions says whether a copy can be lowered for it)."""
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    newer = ModelProto()
    newer.ParseFromString(MODEL.read_bytes())
    newer.ir_version = OLDEST_ONNXRUNTIME_MAX_IR + 1
    path = tmp_path / "ir14.onnx"
    path.write_bytes(newer.SerializeToString())
    first, modules = analyze(tmp_path, path)
    assert loaded(modules, "onnxruntime")
    assert len(list((tmp_path / "cache").glob("onnxruntime-limits-*.json"))) == 1
    again, modules = analyze(tmp_path, path)
    assert {**again, "seconds": None} == {**first, "seconds": None}  # the same report (but for the time it took)
    may_load = MODEL_LIBRARIES if runtime_limits().max_ir_version < newer.ir_version else ()
    assert [package for package in (*MODEL_LIBRARIES, *NOT_FOR_ANALYSIS)
            if loaded(modules, package) and package not in may_load] == []
