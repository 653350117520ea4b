"""Optimization profiles: each validation rule, suggestions, and the shape syntax shared with trtexec."""

from __future__ import annotations

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import TensorInfo
from workbench.core.shapes.profiles import (Profile, ShapeRange, check_profiles, format_shape_list, parse_shape_list,
                                     profile_from_shape_lists, profiles_from_recipe, profiles_to_recipe,
                                     profile_from_samples, validate_profiles)

IMAGES = TensorInfo("images", "float32", ("batch", 3, 64, 64))
SIZES = TensorInfo("sizes", "int64", (2,))
STATIC = TensorInfo("mask", "float32", (1, 64))
INPUTS = [IMAGES, SIZES, STATIC]


def images(low, mid, high) -> Profile:
    return Profile({"images": ShapeRange(low, mid, high)})


def messages(profile: Profile) -> list[str]:
    return [issue.message for issue in validate_profiles([profile], INPUTS)]


def test_a_fitting_profile_has_no_issues():
    profile = images((1, 3, 64, 64), (4, 3, 64, 64), (8, 3, 64, 64))
    profile.values["sizes"] = ShapeRange((1, 1), (32, 32), (64, 64))
    assert validate_profiles([profile], INPUTS) == []


def test_unknown_input_name_is_refused_with_the_real_names():
    profile = images((1, 3, 64, 64), (1, 3, 64, 64), (1, 3, 64, 64))
    profile.shapes["imgs"] = ShapeRange((1,), (1,), (1,))
    [issue] = validate_profiles([profile], INPUTS)
    assert issue.input == "imgs"
    assert "does not have" in issue.message and "images, sizes, mask" in issue.message


def test_wrong_rank_names_the_field():
    [issue] = validate_profiles([images((1, 3, 64), (1, 3, 64, 64), (1, 3, 64, 64))], INPUTS)
    assert (issue.which, issue.dim) == ("min", None)
    assert "has 3 dimensions, the model's input needs 4" in issue.message


def test_min_opt_max_order_is_checked_per_dimension():
    issues = validate_profiles([images((4, 3, 64, 64), (2, 3, 64, 64), (1, 3, 64, 64))], INPUTS)
    assert [(i.which, i.dim) for i in issues] == [("min", 0), ("max", 0)]  # each cell that breaks the order
    assert "min 4 > opt 2" in issues[0].message and "opt 2 > max 1" in issues[1].message


def test_static_dims_must_match_the_model():
    [issue] = validate_profiles([images((1, 3, 64, 64), (1, 3, 32, 64), (1, 3, 64, 64))], INPUTS)
    assert (issue.which, issue.dim) == ("opt", 2)
    assert "fixes it at 64" in issue.message


def test_negative_dimensions_are_refused_and_empty_ones_allowed():
    """TensorRT builds profiles with 0-sized dims (an empty KV cache, an empty set of detections)."""
    assert any("must be 0 or more" in m for m in messages(images((-1, 3, 64, 64), (1, 3, 64, 64), (1, 3, 64, 64))))
    assert messages(images((0, 3, 64, 64), (1, 3, 64, 64), (1, 3, 64, 64))) == []


def test_every_dynamic_input_needs_shapes_in_each_profile():
    [issue] = validate_profiles([Profile()], INPUTS)
    assert issue.input == "images" and "gives no shapes for dynamic input" in issue.message


def test_shape_tensor_values_are_checked():
    profile = images((1, 3, 64, 64), (1, 3, 64, 64), (1, 3, 64, 64))
    profile.values["sizes"] = ShapeRange((1, 1), (8, 8, 8), (4, 4))
    profile.values["mask"] = ShapeRange((1,), (1,), (1,))
    found = messages(profile)
    assert any("values of 'sizes'" in m and "has 3 values" in m for m in found)
    assert any("'mask'" in m and "only integer scalar or 1-D inputs" in m for m in found)


def test_check_profiles_raises_the_first_issue_and_keeps_all_in_detail():
    bad = images((4, 3, 64, 64), (2, 3, 64, 64), (1, 3, 64, 64))
    with pytest.raises(WorkbenchError) as caught:
        check_profiles([bad], INPUTS)
    assert "min 4 > opt 2" in caught.value.message
    assert "opt 2 > max 1" in caught.value.detail


def test_suggestion_from_sample_data_spans_the_samples():
    samples = {"images": [(2, 3, 64, 64), (6, 3, 64, 64), (2, 3, 64, 64)]}
    profile = profile_from_samples(INPUTS, samples)
    assert profile.shapes["images"] == ShapeRange((2, 3, 64, 64), (2, 3, 64, 64), (6, 3, 64, 64))


def test_samples_suggest_nothing_for_inputs_they_do_not_cover():
    assert "images" not in profile_from_samples(INPUTS, {}).shapes  # the shape service decides, never a silent 1


def test_shape_lists_round_trip_in_trtexec_syntax():
    shapes = parse_shape_list("images:1x3x64x64, ns:/x:0:4,scalar:")
    assert shapes == {"images": (1, 3, 64, 64), "ns:/x:0": (4,), "scalar": ()}
    assert parse_shape_list(format_shape_list(shapes)) == shapes


@pytest.mark.parametrize("text", ["images", "images:1xAx3"])
def test_unreadable_shape_lists_say_how_to_write_them(text):
    with pytest.raises(WorkbenchError) as caught:
        parse_shape_list(text)
    assert "Cannot read" in caught.value.message and "1x3x224x224" in caught.value.hint


def test_missing_min_or_max_is_taken_from_opt_like_trtexec():
    profile = profile_from_shape_lists({}, {"images": (4, 3, 64, 64)}, {"images": (8, 3, 64, 64)})
    assert profile.shapes["images"] == ShapeRange((4, 3, 64, 64), (4, 3, 64, 64), (8, 3, 64, 64))


def test_profiles_round_trip_through_recipe_data():
    profile = images((1, 3, 64, 64), (4, 3, 64, 64), (8, 3, 64, 64))
    profile.values["sizes"] = ShapeRange((1, 1), (2, 2), (3, 3))
    assert profiles_from_recipe(profiles_to_recipe([profile, Profile()])) == [profile, Profile()]


def test_malformed_recipe_profile_says_what_is_expected():
    with pytest.raises(WorkbenchError) as caught:
        profiles_from_recipe([{"shapes": {"images": {"min": [1, 3, 64, 64]}}}])
    assert "Profile 1, input 'images'" in caught.value.message and "'min', 'opt' and 'max'" in caught.value.message


def test_a_scalar_shape_tensor_holds_one_value():
    count = TensorInfo("count", "int32", ())
    assert validate_profiles([Profile(values={"count": ShapeRange((1,), (4,), (8,))})], [count]) == []
    [issue] = validate_profiles([Profile(values={"count": ShapeRange((), (4,), (8,))})], [count])
    assert issue.which == "min" and "has 0 values, the model's input needs 1" in issue.message


def test_shape_tensor_values_must_be_ordered_like_dims():
    profile = images((1, 3, 64, 64), (1, 3, 64, 64), (1, 3, 64, 64))
    profile.values["sizes"] = ShapeRange((8, 8), (4, 4), (16, 16))
    issues = validate_profiles([profile], INPUTS)
    assert [(i.which, i.dim, i.values) for i in issues] == [("min", 0, True), ("min", 1, True)]
    assert "value 0 has min 8 > opt 4" in issues[0].message
