"""What a plain ``trt-workbench analyze MODEL --json`` loads: every module is start-up time each command and
child process pays, so the libraries that analysis does not use must stay unloaded (issue 23: the parser once
imported every command's dependencies, and through onnx a slow ml_dtypes)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

MODEL = ROOT / "tests" / "corpus" / "text_detector_p2o.onnx"
# Libraries of other commands (onnxruntime: compare, parity, the shape probe; onnxslim, onnxconverter-common:
# fixes and conversions; polygraphy: dev only), of the window (PySide6, pyqtgraph, netron) and of nobody (torch).
NOT_FOR_ANALYSIS = ("onnxruntime", "onnxslim", "onnxconverter_common", "polygraphy", "PySide6", "pyqtgraph",
                    "netron", "torch", "workbench.ui")
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


def test_plain_analyze_loads_no_library_it_does_not_use(tmp_path):
    code, modules = modules_after(tmp_path, "from workbench.cli import main\nresult = main(sys.argv[2:])",
                                  "analyze", str(MODEL), "--json", "--backend", "tensorrt-rtx")
    assert code == 0  # the PaddleOCR detector parses in full
    assert "workbench.core.analysis.support" in modules  # the analysis did run in this process
    assert [package for package in NOT_FOR_ANALYSIS if loaded(modules, package)] == []


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
