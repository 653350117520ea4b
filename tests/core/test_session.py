"""The window's state without Qt: opening, problems by source, stages, and the fix history's rules.

Real models and real fixes (onnx-graphsurgeon); no QApplication anywhere.
"""

from __future__ import annotations

import pytest

from workbench.core.analysis.support import analyze_support
from workbench.core.build.trial import TrialBuild, trial_build
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import apply_fix, parse_spec
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.problems import Problem
from workbench.core.repair import REPAIRED, RepairResult, RepairStep
from workbench.core.session import NOT_RUN_ON_THIS_MODEL, RESET_ON_NEW_MODEL, ResultKind, SessionState
from workbench.core.shapes.dims import ShapeSuggestion
from workbench.core.shapes.profiles import Profile, ShapeRange, profiles_to_recipe

SHAPE_FIX = "set-input-shape:input=images,shape=1x3x64x64"
PROFILE = Profile({"images": ShapeRange((1, 3, 64, 64), (1, 3, 64, 64), (2, 3, 64, 64))})


@pytest.fixture
def opened(samples, backend) -> SessionState:
    state = SessionState()
    model = load_model(samples / "clean_cnn.onnx")
    state.set_model(model, analyze_support(model, backend), opened=True)
    return state


def build_problem(message: str) -> Problem:
    return Problem(severity="error", kind="builder-error", message=message, stage="build")


def test_opening_a_model_starts_the_recipe_history_and_later_stages_afresh(opened, samples):
    model = opened.model
    assert opened.original is model and opened.recipe.source_model == str(model.path)
    opened.set_problems("trial-build", [build_problem("no runners")])
    opened.set_stage("engine", "ok", "built")
    opened.apply(parse_spec(SHAPE_FIX).spec(), apply_fix(model, parse_spec(SHAPE_FIX)).after)
    assert len(opened.history) == 1 and opened.recipe.fixes == []  # apply() only adds the fixes it is given

    other = load_model(samples / "groupnorm.onnx")
    opened.set_model(other, opened=True)
    assert opened.original is other and opened.report is None and opened.problems == []
    assert len(opened.history) == 0 and not opened.history.can_undo
    assert all(opened.stages[stage] == ("none", NOT_RUN_ON_THIS_MODEL) for stage in RESET_ON_NEW_MODEL)


def test_problems_are_the_reports_then_each_sources_and_a_source_replaces_its_own(opened):
    parser_problems = list(opened.report.problems)
    opened.set_problems("trial-build", [build_problem("first")])
    opened.set_problems("build", [build_problem("from the build")])
    opened.set_problems("trial-build", [build_problem("second")])
    assert [p.message for p in opened.problems[len(parser_problems):]] == ["second", "from the build"]
    assert opened.problems[:len(parser_problems)] == parser_problems
    assert [p.message for p in opened.problems_from("build")] == ["from the build"]


def test_undo_hands_back_the_exact_previous_model_and_removes_the_step_from_the_recipe(opened):
    original = opened.model
    original_bytes = original.serialized
    result = apply_fix(original, parse_spec(SHAPE_FIX))
    opened.set_problems("trial-build", [build_problem("for the original")])
    opened.apply_fix(result)
    assert opened.model is result.after and opened.report is None and opened.problems == []
    assert opened.recipe.fixes == [result.step.to_dict()]
    assert opened.history.undo_label == SHAPE_FIX and opened.history.can_undo and not opened.history.can_redo

    assert opened.undo().model is original
    assert opened.model is original and opened.model.serialized == original_bytes
    assert opened.recipe.fixes == [] and opened.history.redo_label == SHAPE_FIX
    assert opened.undo() is None  # nothing left to undo: nothing changes
    assert opened.model is original

    assert opened.redo().model is result.after
    assert opened.model is result.after and opened.recipe.fixes == [result.step.to_dict()]
    assert opened.redo() is None


def test_a_new_fix_after_an_undo_drops_the_undone_steps(opened):
    original = opened.model
    first = apply_fix(original, parse_spec(SHAPE_FIX))
    opened.apply_fix(first)
    opened.undo()
    second = apply_fix(original, parse_spec("remove-unused"))
    opened.apply_fix(second)
    assert [step.label for step in opened.history.steps] == ["remove-unused"]
    assert not opened.history.can_redo and opened.recipe.fixes == [second.step.to_dict()]


def test_a_result_previewed_on_another_model_is_refused_and_changes_nothing(opened):
    original = opened.model
    stale = apply_fix(LoadedModel.from_proto(original.full_proto()), parse_spec(SHAPE_FIX))
    with pytest.raises(WorkbenchError, match="changed since"):
        opened.apply_fix(stale)
    assert opened.model is original and len(opened.history) == 0 and opened.recipe.fixes == []


def test_recorded_steps_do_not_change_when_the_live_recipe_is_edited(opened):
    original = opened.model
    result = apply_fix(original, parse_spec(SHAPE_FIX))
    opened.apply_fix(result)
    opened.recipe.fixes[0]["params"]["shape"] = "edited"
    opened.recipe.fixes.append({"name": "remove-unused", "params": {}})
    opened.undo()
    opened.redo()
    assert opened.recipe.fixes == [result.step.to_dict()]


def test_a_repair_is_one_step_with_its_fixes_and_profile_and_undo_takes_both_back(opened):
    original = opened.model
    opened.recipe.profiles = []
    fix = apply_fix(original, parse_spec("remove-unused"))
    repair = RepairResult(REPAIRED, "builds after 2 steps", original, fix.after,
                          steps=[RepairStep("dead nodes", fix=fix.step),
                                 RepairStep("dynamic input", profiles=[PROFILE])],
                          fix_results=[fix], profiles=[PROFILE])
    opened.apply_repair(repair)
    assert opened.model is fix.after
    assert opened.recipe.fixes == [fix.step.to_dict()] and opened.recipe.profiles == profiles_to_recipe([PROFILE])
    assert len(opened.history) == 1
    assert opened.history.undo_label == f"Repair: remove-unused → {repair.steps[1].title}"
    opened.undo()
    assert opened.model is original and opened.recipe.fixes == [] and opened.recipe.profiles == []
    opened.redo()
    with pytest.raises(WorkbenchError, match="repair search"):  # the search was made on another model
        opened.apply_repair(repair)
    assert len(opened.history) == 1


def test_moving_to_any_point_of_the_history(opened):
    original = opened.model
    first = apply_fix(original, parse_spec(SHAPE_FIX))
    opened.apply_fix(first)
    second = apply_fix(first.after, parse_spec("remove-unused"))
    opened.apply_fix(second)
    assert opened.move_to(0).model is original and opened.recipe.fixes == [] and opened.history.position == 0
    assert opened.move_to(2).model is second.after and len(opened.recipe.fixes) == 2
    assert opened.move_to(1).model is first.after and opened.recipe.fixes == [first.step.to_dict()]
    with pytest.raises(IndexError):
        opened.move_to(3)


def test_replacing_the_model_outside_the_history_starts_it_again_but_keeps_the_original(opened):
    original = opened.model
    opened.apply_fix(apply_fix(original, parse_spec(SHAPE_FIX)))
    replacement = LoadedModel.from_proto(original.full_proto())
    opened.set_model(replacement)
    assert opened.model is replacement and opened.original is original and len(opened.history) == 0


def test_stages_are_checked(opened):
    opened.set_stage("compare", "failed", "outputs differ")
    assert opened.stages["compare"] == ("failed", "outputs differ")
    with pytest.raises(ValueError):
        opened.set_stage("compare", "maybe")
    with pytest.raises(ValueError):
        opened.set_stage("lunch", "ok")


def test_nothing_to_change_without_a_model():
    with pytest.raises(WorkbenchError, match="no model"):
        SessionState().apply("a step", None)


def test_undo_and_redo_bring_back_the_report_problems_stages_and_results_kept_with_each_model(opened, backend):
    original, report = opened.model, opened.report
    trial = trial_build(original, backend=backend)
    opened.set_problems("trial-build", trial.triage_problems())
    opened.set_stage("builds", "ok" if trial.succeeded else "failed", "trial build")
    assert opened.keep(ResultKind.TRIAL_BUILD, trial, original)
    assert opened.keep(ResultKind.SHAPES, trial.shapes, original)
    stages = dict(opened.stages)

    fixed = apply_fix(original, parse_spec(SHAPE_FIX))
    opened.apply_fix(fixed)
    # A new model: nothing is known about it yet, and nothing of the previous one shows.
    assert opened.report is None and opened.problems == [] and opened.kept(ResultKind.TRIAL_BUILD, TrialBuild) is None
    assert all(opened.stages[stage] == ("none", NOT_RUN_ON_THIS_MODEL) for stage in RESET_ON_NEW_MODEL)
    fixed_report = analyze_support(fixed.after, backend)
    opened.set_report(fixed_report)
    opened.set_stage("builds", "running", "trial build running")

    opened.undo()
    assert opened.model is original and opened.report is report
    assert opened.problems_from("trial-build") == trial.triage_problems() and opened.stages == stages
    assert opened.kept(ResultKind.TRIAL_BUILD, TrialBuild) is trial
    assert opened.kept(ResultKind.SHAPES, ShapeSuggestion) is trial.shapes
    opened.redo()
    assert opened.model is fixed.after and opened.report is fixed_report
    assert opened.stages["builds"] == ("running", "trial build running")
    assert opened.kept(ResultKind.TRIAL_BUILD, TrialBuild) is None


def test_a_result_that_arrives_after_its_model_was_replaced_is_kept_with_that_model(opened, backend, samples):
    original = opened.model
    opened.apply_fix(apply_fix(original, parse_spec(SHAPE_FIX)))
    trial = trial_build(original, backend=backend)  # e.g. a build of the original that finished after the fix
    assert opened.keep(ResultKind.BUILD, trial, original)
    assert opened.kept(ResultKind.BUILD, TrialBuild) is None  # not about the current model
    opened.undo()
    assert opened.kept(ResultKind.BUILD, TrialBuild) is trial
    # A model the history does not hold (another file): nowhere to keep it.
    assert not opened.keep(ResultKind.BUILD, trial, load_model(samples / "groupnorm.onnx"))


def test_a_new_analysis_of_the_same_model_drops_what_followed_the_previous_one(opened, backend):
    model = opened.model
    trial = trial_build(model, backend=backend)
    for kind, result in ((ResultKind.TRIAL_BUILD, trial), (ResultKind.SHAPES, trial.shapes), (ResultKind.BUILD, trial)):
        opened.keep(kind, result, model)
    opened.set_report(analyze_support(model, backend))  # "Analyse again": its trial build runs again
    assert opened.kept(ResultKind.TRIAL_BUILD, TrialBuild) is None
    assert opened.kept(ResultKind.SHAPES, ShapeSuggestion) is None
    assert opened.kept(ResultKind.BUILD, TrialBuild) is trial  # about the model, not about one analysis of it
