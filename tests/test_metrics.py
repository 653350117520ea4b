"""Metrics on constructed arrays: values known by construction, NaN/Inf rules, zeros, top-k."""

import json

import numpy as np
import pytest

from workbench.core.metrics import (Tolerances, compare_arrays, error_heatmap, error_histogram,
                                    topk_agreement)


def test_identical_arrays_pass_with_zero_error():
    a = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    result = compare_arrays("y", a, a.copy())
    assert result.passed and result.max_abs == 0 and result.outside_fraction == 0
    assert result.cosine == pytest.approx(1.0)


def test_statistics_match_the_construction():
    ref = np.array([1, 2, 4, 8], np.float32)
    test = ref + np.array([0, 0.5, 0, -1], np.float32)
    result = compare_arrays("y", ref, test)
    assert result.max_abs == pytest.approx(1.0)
    assert result.mean_abs == pytest.approx(0.375)
    assert result.max_rel == pytest.approx(0.25)
    assert result.mean_rel == pytest.approx((0.25 + 0.125) / 4)
    assert result.outside_fraction == pytest.approx(0.5)
    assert not result.passed
    expected_cos = float(ref @ test / np.linalg.norm(ref) / np.linalg.norm(test))
    assert result.cosine == pytest.approx(expected_cos, abs=1e-6)


def test_element_passes_when_within_atol_or_rtol_like_polygraphy():
    ref = np.array([1000.0, 1e-7], np.float64)
    test = np.array([1000.005, 5e-6], np.float64)  # 1st: rel 5e-6 < rtol; 2nd: abs 4.9e-6 < atol
    assert compare_arrays("y", ref, test).passed
    assert not compare_arrays("y", ref, test, atol=1e-7, rtol=1e-7).passed


def test_zero_reference_is_judged_by_atol_and_left_out_of_relative_error():
    ref = np.array([0.0, 0.0, 2.0], np.float32)
    test = np.array([1e-6, 1e-3, 2.0], np.float32)
    result = compare_arrays("y", ref, test)
    assert result.outside_fraction == pytest.approx(1 / 3)  # only the 1e-3 element fails
    assert result.max_rel == 0.0 and np.isfinite(result.mean_rel)
    assert result.max_abs == pytest.approx(1e-3)


def test_all_zero_outputs():
    zeros = np.zeros((2, 3), np.float32)
    result = compare_arrays("y", zeros, zeros)
    assert result.passed and result.cosine == 1.0 and result.max_rel == 0.0


def test_nan_on_either_side_fails_even_when_both_are_nan():
    ref = np.array([1.0, np.nan, 3.0], np.float32)
    result = compare_arrays("y", ref, ref.copy())
    assert not result.passed
    assert (result.nan_ref, result.nan_test) == (1, 1)
    assert result.outside_fraction == pytest.approx(1 / 3)
    assert result.mean_abs == 0.0  # statistics over elements finite on both sides


def test_nan_only_in_test_is_counted_on_the_test_side():
    ref = np.array([1.0, 2.0], np.float32)
    result = compare_arrays("y", ref, np.array([1.0, np.nan], np.float32))
    assert (result.nan_ref, result.nan_test) == (0, 1) and not result.passed


def test_matching_infinities_fail_by_default_and_pass_when_asked():
    ref = np.array([1.0, np.inf, -np.inf], np.float32)
    assert not compare_arrays("y", ref, ref.copy()).passed
    result = compare_arrays("y", ref, ref.copy(), infinities_compare_equal=True)
    assert result.passed and (result.inf_ref, result.inf_test) == (2, 2)
    flipped = np.array([1.0, -np.inf, -np.inf], np.float32)
    assert not compare_arrays("y", ref, flipped, infinities_compare_equal=True).passed


def test_shape_mismatch_fails_with_message():
    result = compare_arrays("y", np.zeros((2, 3)), np.zeros((3, 2)))
    assert not result.passed and "shape mismatch" in result.message


def test_float16_against_float32_and_integer_outputs():
    ref = np.linspace(-1, 1, 101, dtype=np.float32)
    half = compare_arrays("y", ref, ref.astype(np.float16))
    assert half.dtype == "float16" and 0 < half.max_abs < 1e-3 and not half.passed
    assert compare_arrays("y", ref, ref.astype(np.float16), atol=1e-3).passed
    ints = compare_arrays("idx", np.array([1, 2, 3], np.int64), np.array([1, 2, 4], np.int64))
    assert ints.max_abs == 1 and not ints.passed
    flags = compare_arrays("mask", np.array([True, False]), np.array([True, True]))
    assert flags.outside_fraction == 0.5


def test_topk_agreement_on_logits():
    logits = np.tile(np.arange(10, dtype=np.float32), (4, 1))
    changed = logits.copy()
    changed[0, [9, 8]] = changed[0, [8, 9]]  # row 0: the top two classes swap
    changed[1, 0] = 100  # row 1: a class outside the top 5 becomes the top
    result = compare_arrays("logits", logits, changed, top_k=5)
    assert result.top_k == 5
    assert result.top1_agreement == pytest.approx(0.5)
    assert result.topk_agreement == pytest.approx((1 + 0.8 + 1 + 1) / 4)
    assert topk_agreement(logits, logits, 3) == (1.0, 1.0)
    assert compare_arrays("feature", np.zeros((2, 3, 4)), np.zeros((2, 3, 4))).top1_agreement is None


def test_to_dict_is_json_with_infinities_as_strings():
    result = compare_arrays("y", np.array([1.0], np.float32), np.array([np.inf], np.float32))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["max_abs"] == "inf" and float(data["max_abs"]) == np.inf and data["passed"] is False


def test_tolerances_per_output_round_trip():
    tolerances = Tolerances(1e-3, 1e-2, {"probs": (1e-4, 0.0)}, infinities_compare_equal=True)
    again = Tolerances.from_dict(tolerances.to_dict())
    assert again == tolerances
    assert again.for_output("probs") == (1e-4, 0.0) and again.for_output("other") == (1e-3, 1e-2)


def test_histogram_and_heatmap_for_plots():
    error = np.abs(np.random.default_rng(1).standard_normal((2, 3, 8, 6))).astype(np.float32)
    error[0, 0, 0, 0] = 0.0
    error[0, 0, 0, 1] = np.nan
    counts, edges = error_histogram(error, bins=20)
    assert counts.sum() == error.size - 2 and len(edges) == 21
    assert error_heatmap(error).shape == (8, 6)
    assert error_heatmap(error[0, 0]).shape == (8, 6)
    assert error_heatmap(error[0]) is None
    assert error_histogram(np.zeros(5))[0].size == 0
