"""The runtime owns the backends, every child process and the caches; closing it stops every child."""

from __future__ import annotations

import threading

import psutil
import pytest

from tests.conftest import SAMPLES
from tests.core.isolation import child_calls
from workbench.core.errors import WorkbenchError
from workbench.core.isolation.child_process import ChildCrashed, ChildProcess
from workbench.core.model.loading import load_model
from workbench.core.runtime import Runtime, current_runtime
from workbench.core.shapes.suggest import known_shapes, suggest_shapes


def test_an_open_runtime_is_the_current_one_until_it_closes():
    outer = current_runtime()
    with Runtime() as runtime:
        assert current_runtime() is runtime
        assert runtime.backend("auto") is runtime.backend("auto") is runtime.backend(runtime.backend().name)
    assert current_runtime() is outer


def _our_children() -> set[int]:
    return {child.pid for child in psutil.Process().children() if child.status() != psutil.STATUS_ZOMBIE}


def test_closing_stops_the_waiting_and_the_running_children():
    before = _our_children()
    with Runtime() as runtime:
        waiting = runtime.child_process("waiting", ChildProcess)
        busy = runtime.child_process("busy", ChildProcess)
        assert runtime.child_process("busy", ChildProcess) is busy  # one child per name
        waiting.start()
        busy.start()
        started = _our_children() - before
        assert len(started) == 2
        assert waiting.call(child_calls.process_id) in started  # and then waits for the next call
        failures, sleeping = [], threading.Event()

        def run() -> None:
            try:
                busy.call(child_calls.report_then_sleep, 60.0, on_event=lambda _event: sleeping.set())
            except ChildCrashed as exc:
                failures.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        sleeping.wait()  # the call runs in its child
    thread.join()
    assert len(failures) == 1  # the running call learns that its child ended
    assert _our_children() & started == set()
    assert runtime.child_processes() == {}


def test_shape_suggestions_are_cached_in_the_runtime_not_on_the_model():
    model = load_model(SAMPLES / "clean_cnn.onnx")
    with Runtime() as runtime:
        suggestion = suggest_shapes(model)
        assert known_shapes(model) is suggestion
        assert suggestion in runtime.shape_cache(model).suggestions.values()
        assert not any(key.startswith("_shape") for key in vars(model))
    with Runtime():
        assert suggest_shapes(model) is not suggestion  # a new runtime starts with no answers


def test_an_unknown_backend_is_a_clear_error():
    with Runtime() as runtime, pytest.raises(WorkbenchError, match="Unknown backend"):
        runtime.backend("onnx-tensorrt")


def test_scratch_folders_live_until_the_runtime_closes():
    with Runtime() as runtime:
        first, second = runtime.scratch_folder("trt-workbench-test-"), runtime.scratch_folder("trt-workbench-test-")
        assert first != second and first.name.startswith("trt-workbench-test-")
        (first / "nested").mkdir()
        (first / "nested" / "reduced.onnx").write_bytes(b"kept while the runtime lives")
        assert first.is_dir() and second.is_dir()
    assert not first.exists() and not second.exists()


@pytest.mark.parametrize("spare_children", [True, False])
def test_a_one_call_child_is_followed_by_a_spare_only_when_the_runtime_keeps_spares(spare_children):
    before = _our_children()
    with Runtime(spare_children=spare_children) as runtime:
        child = runtime.child_process("one call", lambda: ChildProcess(one_call_per_child=True))
        served_by = child.call(child_calls.process_id)
        after_call = _our_children() - before
        assert served_by not in after_call  # that child served its one call and ended
        assert len(after_call) == (1 if spare_children else 0)
    assert _our_children() - before == set()
