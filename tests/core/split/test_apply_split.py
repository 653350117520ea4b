"""Keeping a split's TensorRT part: one undoable step in the session, replayed by the CLI from the recipe."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from workbench.cli import main
from workbench.core.fixes.apply import apply_fix, step_from_dict
from workbench.core.model.loading import load_model
from workbench.core.recipe import load_recipe, save_recipe
from workbench.core.session import SessionState
from workbench.core.split.deploy import tensorrt_part_cut
from workbench.core.split.split import split_model

DETECTOR = ROOT / "tests" / "corpus" / "detector_nms_ts.onnx"


@pytest.fixture(scope="module")
def session_and_split(backend):
    state = SessionState()
    state.set_model(load_model(DETECTOR), opened=True)
    return state, split_model(state.model, backend=backend)


def test_keeping_the_tensorrt_part_is_one_undoable_step_that_remembers_the_split(session_and_split, backend):
    state, split = session_and_split
    original = state.model
    cut = apply_fix(original, step_from_dict(tensorrt_part_cut(split)))
    step = state.apply_split(split, cut, backend.name)
    assert state.model is cut.after and "Split for TensorRT" in step.label
    assert [o.name for o in state.model.proto.graph.output] == split.parts[0].outputs
    assert state.recipe.fixes == [cut.step.to_dict()]
    assert [p["runtime"] for p in state.recipe.split["parts"]] == [p.runtime for p in split.parts]
    state.undo()
    assert state.model is original and state.recipe.fixes == [] and state.recipe.split == {}
    state.redo()
    assert state.model is cut.after and state.recipe.split["parts"]


def test_the_recipe_replays_the_tensorrt_part_in_the_cli(session_and_split, backend, tmp_path, capsys):
    state, split = session_and_split
    if state.model is split.model:  # this test alone: apply it here
        state.apply_split(split, apply_fix(split.model, step_from_dict(tensorrt_part_cut(split))), backend.name)
    recipe = save_recipe(state.recipe, tmp_path / "recipe.toml")
    assert load_recipe(recipe).split["boundaries"]
    engine = tmp_path / "trt_part.engine"
    assert main(["build", str(DETECTOR), "--recipe", str(recipe), "-o", str(engine)]) == 0, capsys.readouterr().err
    assert engine.stat().st_size > 0
