"""Third-party loggers never write raw lines: every command's ``--json`` stdout is exactly one object.

The model (``unfoldable_constant_model``) makes onnx-graphsurgeon's constant folding hand a subgraph
to onnxruntime, which refuses it: graphsurgeon then logs "Inference failed …" (and, without the
``colored`` package, "colored module is not installed …"), which its logger would ``print``. The
CLI runs as users run it, in its own process, so native writes to fd 1/2 count too.
"""

from __future__ import annotations

import json
import re

import onnxruntime as ort
import pytest
from onnx import helper

from tests.conftest import run_cli
from tests.onnx_factory import UNKNOWN_DOMAIN, make_model, save, tensor, unfoldable_constant_model, weights
from workbench.cli import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS
from workbench.core.third_party_logs import capture_output, collect, install

# What the libraries print when nobody routes them: graphsurgeon's "[W] …", onnxruntime's "[W:onnxruntime:…]".
RAW_LIBRARY_LINE = re.compile(r"^\s*(\x1b\[[0-9;]*m)*\s*(\[[WEIVC]\] |.*\[[VIWEF]:onnxruntime:)", re.MULTILINE)
GRAPHSURGEON_FAILURE = "Inference failed"


@pytest.fixture(scope="module")
def noisy_model(tmp_path_factory):
    return save(unfoldable_constant_model(), tmp_path_factory.mktemp("noisy") / "noisy.onnx")


def one_json_object(stdout: str) -> dict:
    data = json.loads(stdout)  # raises on anything before or after the object ("Extra data")
    assert isinstance(data, dict)
    return data


# Each command on the noisy model, and its exit code: TensorRT's parser refuses the unknown-domain op (analyze, build
# and repair find a problem they cannot solve: 1; reduce finds no smaller cut of its two nodes that fails the same
# way: 1), folding succeeds (fix: 0), onnxruntime refuses to load it (compare cannot run: 2).
COMMANDS = {
    "analyze": (lambda m, out: ["analyze", m, "--json"], EXIT_PROBLEMS),
    "analyze --build": (lambda m, out: ["analyze", m, "--build", "--json"], EXIT_PROBLEMS),
    "fix": (lambda m, out: ["fix", m, "--apply", "fold-constants", "-o", out / "fixed.onnx", "--json"], EXIT_OK),
    "build": (lambda m, out: ["build", m, "-o", out / "model.engine", "--json"], EXIT_PROBLEMS),
    "compare": (lambda m, out: ["compare", m, "--against", m, "--json"], EXIT_ERROR),
    "repair": (lambda m, out: ["repair", m, "-o", out / "repaired.onnx", "--recipe-out", out / "r.toml", "--json",
                               "--budget", "60"], EXIT_PROBLEMS),
    "reduce": (lambda m, out: ["reduce", m, "-o", out / "report", "--json", "--time-limit", "60"], EXIT_PROBLEMS),
}
# Commands whose work folds constants with graphsurgeon, so its warning must reach our log.
FOLDING = {"fix", "repair"}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_json_stdout_is_one_object_and_library_messages_join_the_log(name, noisy_model, tmp_path):
    arguments, exit_code = COMMANDS[name]
    done = run_cli(*arguments(noisy_model, tmp_path))
    data = one_json_object(done.stdout)
    assert not RAW_LIBRARY_LINE.search(done.stderr), done.stderr
    assert done.returncode == exit_code, data
    assert isinstance(data["log"], list)
    if name in FOLDING:
        assert any(m["source"] == "onnx-graphsurgeon" and GRAPHSURGEON_FAILURE in m["text"] for m in data["log"]), \
            data["log"]
    if exit_code == EXIT_ERROR:  # the command could not run: the error is the object, with what to try
        assert data["error"]["message"] and data["error"]["message"].split(":")[0] in done.stderr
    if name == "compare":  # onnxruntime refuses the model: its own words reach the user as our error
        assert UNKNOWN_DOMAIN in data["error"]["message"]


def test_fix_text_output_shows_the_library_warning_as_ours(noisy_model, tmp_path):
    done = run_cli("fix", noisy_model, "--apply", "fold-constants", "-o", tmp_path / "fixed.onnx")
    assert done.returncode == 0
    assert not RAW_LIBRARY_LINE.search(done.stdout) and not RAW_LIBRARY_LINE.search(done.stderr)
    assert f"warning: onnx-graphsurgeon: {GRAPHSURGEON_FAILURE}" in done.stdout  # the step's warnings
    # the run's log, in short (graphsurgeon 0.5 logs one more line than 0.6 for the same failure)
    assert re.search(r"note: onnx-graphsurgeon logged \d+ warning\(s\)", done.stderr), done.stderr
    debug = run_cli("fix", noisy_model, "--apply", "fold-constants", "-o", tmp_path / "again.onnx", "--debug")
    assert f"onnx-graphsurgeon warning: {GRAPHSURGEON_FAILURE}" in debug.stderr
    assert not RAW_LIBRARY_LINE.search(debug.stdout) and not RAW_LIBRARY_LINE.search(debug.stderr)


def test_fix_result_carries_graphsurgeon_warning(noisy_model):
    from workbench.core.fixes.apply import apply_fix, make_step
    from workbench.core.model.loading import load_model

    with collect() as messages:
        result = apply_fix(load_model(noisy_model), make_step("fold-constants", {}))
    assert any(w.startswith(f"onnx-graphsurgeon: {GRAPHSURGEON_FAILURE}") for w in result.warnings)
    assert any(m.source == "onnx-graphsurgeon" and m.severity == "warning" for m in messages)


def test_native_onnxruntime_lines_become_messages():
    """onnxruntime's native logger writes to fd 2 directly; the capture turns its lines into messages."""
    model = make_model([helper.make_node("Identity", ["x"], ["y"])], [tensor("x", [1])], [tensor("y", [1])],
                       [weights("unused", [3])])
    install()
    options = ort.SessionOptions()
    options.log_severity_level = 2  # this session warns about the unused initializer
    with capture_output(stdout_too=True) as captured:
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        print("stray text")
    assert any(m.source == "onnxruntime" and m.severity == "warning" and "unused" in m.text
               for m in captured.messages), captured.messages
    assert any(m.source == "stdout" and m.text == "stray text" for m in captured.messages)


@pytest.mark.parametrize("args", [["analyze", "missing.onnx", "--json"],  # the command fails
                                  ["fix", "missing.onnx", "--json"]])  # the command line is incomplete
def test_json_reply_when_nothing_can_run_is_still_one_object(args, tmp_path):
    done = run_cli(*[tmp_path / a if a.endswith(".onnx") else a for a in args])
    data = one_json_object(done.stdout)
    assert done.returncode == 2 and data["error"]["message"] and data["error"]["hint"] and data["log"] == []


def test_onnxslim_loggers_are_routed_once_it_is_imported(capfd):
    import logging

    import onnxslim  # noqa: F401  (what fold-constants:engine=onnxslim imports)
    from onnxslim.third_party.onnx_graphsurgeon.logger import G_LOGGER as SLIM_G_LOGGER

    install()
    # onnxslim.slim() (run by earlier tests' fold-constants:engine=onnxslim) raises both to ERROR itself.
    SLIM_G_LOGGER.severity = SLIM_G_LOGGER.WARNING
    logging.getLogger("onnxslim").setLevel(logging.WARNING)
    with collect() as messages:
        SLIM_G_LOGGER.warning("vendored graphsurgeon warning")
        logging.getLogger("onnxslim").warning("onnxslim's own warning")
    assert [(m.source, m.severity, m.text) for m in messages] == [
        ("onnxslim", "warning", "vendored graphsurgeon warning"), ("onnxslim", "warning", "onnxslim's own warning")]
    printed = capfd.readouterr()
    assert "warning" not in printed.out + printed.err


def test_nested_collections_each_get_what_was_emitted_inside_them():
    from onnx_graphsurgeon.logger import G_LOGGER

    install()
    with collect() as outer:
        with collect() as inner:
            pass  # both lists are empty (equal) when the inner block ends
        G_LOGGER.warning("after the inner block")
    assert inner == [] and [m.text for m in outer] == ["after the inner block"]
