"""Work around PySide6 6.12.0 losing a reference to ``True`` on every ``SignalInstance.emit``.

There ``emit()`` returns ``True`` without owning a reference to it, so each Python-side emit lowers
True's reference count by one; on Python < 3.12 (where True is not immortal) a long session or a
test run ends in "Fatal Python error: bool_dealloc". ``apply`` measures a few emits and wraps
``emit`` only when the loss is observed, so a fixed PySide6 is left untouched.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBE_EMITS = 16


class _Probe(QObject):
    ping = Signal()


def _lost_references() -> int:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        probe.ping.emit()
    return before - sys.getrefcount(True)


def apply() -> bool:
    """Patch ``SignalInstance.emit`` if this PySide6 has the leak; returns whether it patched."""
    if getattr(SignalInstance.emit, "_workbench_refcount_fix", False) or _lost_references() < _PROBE_EMITS:
        return False
    emit = SignalInstance.emit

    def emit_keeping_reference(self, *args):
        result = emit(self, *args)
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))  # the reference emit() failed to take
        return result

    emit_keeping_reference._workbench_refcount_fix = True
    SignalInstance.emit = emit_keeping_reference
    return _lost_references() == 0
