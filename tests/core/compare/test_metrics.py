"""Metrics on constructed arrays: values known by construction, NaN/Inf rules, zeros, top-k."""

import json

import numpy as np
import pytest

from workbench.core.compare.metrics import (COSINE_MIN, MAGNITUDE_FACTOR, NEAR_TIE_FRACTION, SIGNIFICANT_REL_MAX,
                                            Tolerances, Verdict, compare_arrays, decisive_topk_misses, error_heatmap,
                                            error_histogram, topk_agreement)


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
    assert not result.passed and "shape mismatch" in result.reason


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


# --- the judgement on top of the element rule ---------------------------------------------------

def _logits(rows: int, classes: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, classes)).astype(np.float32)


def test_judgement_constants_and_verdicts_serialise_as_their_names():
    assert 0.999 < COSINE_MIN < 1 and MAGNITUDE_FACTOR > 1 and 0 < NEAR_TIE_FRACTION < SIGNIFICANT_REL_MAX
    data = json.loads(json.dumps(compare_arrays("y", np.ones(3, np.float32), np.ones(3, np.float32)).to_dict()))
    assert (data["verdict"], data["reason"], data["passed"]) == ("PASS", "identical values", True)
    assert {str(v) for v in Verdict} == {"PASS", "FAIL", "CANNOT_JUDGE"}


def test_tiny_outputs_cannot_be_judged_by_the_tolerance_unless_identical():
    ref = _logits(4, 100) * np.float32(1e-9)
    noisy = ref * (1 + np.float32(1e-3) * _logits(4, 100, seed=1))  # agrees to 0.1 %: no scale-free alarm
    result = compare_arrays("logits", ref, noisy)
    assert result.within_tolerance and result.verdict is Verdict.CANNOT_JUDGE and not result.passed
    assert f"{np.abs(ref).max():.3g} in the reference" in result.reason and "10 × atol = 0.0001" in result.reason
    assert compare_arrays("logits", ref, ref.copy()).verdict is Verdict.PASS  # identical: nothing to judge


def test_tiny_broken_classifier_fails_on_cosine_and_top1_like_the_reported_case():
    ref, broken = _logits(3, 1000) * np.float32(1e-9), _logits(3, 1000, seed=2) * np.float32(1e-9)
    result = compare_arrays("logits", ref, broken)
    assert result.within_tolerance and result.outside_fraction == 0  # what Polygraphy's rule alone says
    assert result.verdict is Verdict.FAIL and result.top1_agreement == 0
    assert "cosine" in result.reason and "top-1 agreement 0%" in result.reason
    assert "below 10 × atol" in result.reason


def test_an_all_zero_test_side_against_tiny_values_cannot_be_judged():
    ref = _logits(2, 10) * np.float32(1e-9)
    result = compare_arrays("logits", ref, np.zeros_like(ref))
    assert result.verdict is Verdict.CANNOT_JUDGE and "and 0 in the test" in result.reason


def test_cosine_disagreement_fails_although_every_element_is_within_atol():
    # Outputs around 3e-4 with errors just under atol: each element passes atol, yet the error
    # is ~2 % of the output's norm (the reported "cosine 0.99987, max rel 5.2" case).
    rng = np.random.default_rng(4)
    ref = (rng.standard_normal((2, 8, 16, 16)) * 3e-4).astype(np.float32)
    test = ref + rng.uniform(-0.99e-5, 0.99e-5, ref.shape).astype(np.float32)
    result = compare_arrays("features", ref, test)
    assert result.within_tolerance and result.cosine < COSINE_MIN and result.max_rel > 1
    assert result.verdict is Verdict.FAIL and result.reason.startswith(f"cosine {result.cosine:.6f} < 0.9999")
    assert result.reason.endswith("every element is within atol/rtol, which alone would pass it")


def test_a_clear_top1_change_fails_and_a_near_tie_only_gets_a_note():
    ref = np.random.default_rng(5).uniform(-1, 1, (4, 2000)).astype(np.float32)
    ref[:, 0], ref[:, 1] = 3.0, 2.8  # class 0 wins by 0.2: 7 % of the row's largest value
    swapped = ref.copy()
    swapped[:, 0], swapped[:, 1] = 2.85, 2.95
    result = compare_arrays("logits", ref, swapped, atol=0.2)
    assert result.within_tolerance and result.cosine > COSINE_MIN and result.topk_agreement == 1
    assert result.verdict is Verdict.FAIL and "top-1 agreement 0% (4 of 4 row(s)" in result.reason
    assert decisive_topk_misses(ref, swapped, 1, NEAR_TIE_FRACTION) == 4
    ref[:, 1] = 2.99  # now a near-tie: 0.3 % of the row's largest value
    tie = ref.copy()
    tie[:, 0], tie[:, 1] = 2.99, 3.0
    near = compare_arrays("logits", ref, tie, atol=0.2)
    assert near.top1_agreement == 0 and near.verdict is Verdict.PASS
    assert "top-1 agreement 0% on near-ties only" in near.reason


def test_large_relative_error_on_a_large_element_fails():
    ref = np.full(1000, 2e-4, np.float32)  # every element is 20 % of the largest: all carry the signal
    ref[0] = 1e-3
    test = ref.copy()
    test[1:9] += np.float32(9e-6)  # 4.5 % off, inside atol: precision-sized
    assert compare_arrays("y", ref, test).verdict is Verdict.PASS
    test[20] = np.float32(1.4e-4)  # 30 % off: |error| 6e-5 is outside atol 1e-5, the element rule fails it
    assert compare_arrays("y", ref, test).verdict is Verdict.FAIL
    loose = compare_arrays("y", ref, test, atol=1e-4)  # inside a looser atol, with cosine still near 1
    assert loose.within_tolerance and loose.cosine > COSINE_MIN
    assert loose.verdict is Verdict.FAIL and loose.reason.startswith("relative error 0.3 > 0.2")


def test_float16_sized_noise_passes_on_logits_and_relu_activations():
    logits = _logits(8, 1000, seed=6) * np.float32(4)
    half = compare_arrays("logits", logits, logits.astype(np.float16), atol=1e-2, rtol=1e-3)
    assert half.within_tolerance and half.verdict is Verdict.PASS, half.reason
    activations = np.maximum(_logits(2, 4096, seed=7), 0).reshape(2, 16, 16, 16)  # half exact zeros
    assert np.count_nonzero(activations == 0) > activations.size // 3
    relu = compare_arrays("act", activations, activations.astype(np.float16), atol=1e-2, rtol=1e-3)
    assert relu.verdict is Verdict.PASS, relu.reason
    slightly = activations * np.float32(1 + 1e-6)
    assert compare_arrays("act", activations, slightly).verdict is Verdict.PASS


def test_most_of_the_magnitude_under_atol_cannot_be_judged():
    ref = np.full(1000, 5e-6, np.float32)
    ref[0] = 2e-3  # 71 % of sum(|ref|) sits in elements below atol
    test = ref * (1 + np.float32(0.1) * np.random.default_rng(8).uniform(-1, 1, ref.shape).astype(np.float32))
    test[0] = ref[0]
    result = compare_arrays("heatmap", ref, test)
    assert result.within_tolerance and result.verdict is Verdict.CANNOT_JUDGE
    assert "71% of the output's magnitude" in result.reason


def test_zero_reference_against_small_values_cannot_be_judged():
    zeros = np.zeros((2, 3), np.float32)
    result = compare_arrays("y", zeros, zeros + np.float32(1e-7))
    assert result.within_tolerance and result.verdict is Verdict.CANNOT_JUDGE


def test_integer_and_bool_outputs_are_judged_by_the_rule_alone():
    ids = np.array([0, 7, 200_000], np.int64)
    assert compare_arrays("ids", ids, ids.copy()).reason == "identical values"
    shifted = compare_arrays("ids", ids, ids + np.array([0, 0, 1]))  # 5e-6 relative: within rtol
    assert shifted.verdict is Verdict.PASS and shifted.reason == "integer values within atol/rtol"
    assert compare_arrays("ids", ids, ids + 1).verdict is Verdict.FAIL
    flags = compare_arrays("mask", np.array([True, False]), np.array([True, True]))
    assert flags.verdict is Verdict.FAIL and "1 of 2 element(s)" in flags.reason


def test_nan_empty_and_infinities_keep_their_rules_with_reasons():
    nan = np.array([1.0, np.nan], np.float32)
    result = compare_arrays("y", nan, nan.copy())
    assert result.verdict is Verdict.FAIL and "NaN in reference 1, test 1" in result.reason
    empty = compare_arrays("boxes", np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32))
    assert empty.verdict is Verdict.PASS and "empty" in empty.reason
    inf = np.array([1.0, np.inf], np.float32)
    assert compare_arrays("y", inf, inf.copy(), infinities_compare_equal=True).verdict is Verdict.PASS
    assert compare_arrays("y", inf, inf.copy()).verdict is Verdict.FAIL
