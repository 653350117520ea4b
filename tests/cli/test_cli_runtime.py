"""A command's runtime owns every child process the command starts and stops them all before it returns."""

from __future__ import annotations

import psutil

from tests.conftest import SAMPLES
from workbench.cli import main


def _our_children() -> set[int]:
    """Our child processes (``core/isolation``'s), not QtWebEngine's, which live as long as the application."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "workbench.core.isolation.serve" in child.cmdline():
                found.add(child.pid)
        except psutil.NoSuchProcess:  # ended while we looked
            pass
    return found


def test_a_build_leaves_no_child_process_behind(tmp_path, capsys):
    before = _our_children()
    # A build runs in a child and then starts a warm spare for the next build: the command's runtime stops it.
    code = main(["build", str(SAMPLES / "groupnorm.onnx"), "-o", str(tmp_path / "groupnorm.engine"), "--json"])
    capsys.readouterr()
    assert code == 0
    assert _our_children() - before == set()
