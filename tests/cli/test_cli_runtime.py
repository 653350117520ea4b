"""A command's runtime owns every child process the command starts and stops them all before it returns."""

from __future__ import annotations

from tests.conftest import SAMPLES, our_child_processes
from workbench.cli import main


def test_a_build_leaves_no_child_process_behind(tmp_path, capsys):
    before = our_child_processes()
    # A build runs in a child and then starts a warm spare for the next build: the command's runtime stops it.
    code = main(["build", str(SAMPLES / "groupnorm.onnx"), "-o", str(tmp_path / "groupnorm.engine"), "--json"])
    capsys.readouterr()
    assert code == 0
    assert our_child_processes() - before == set()
