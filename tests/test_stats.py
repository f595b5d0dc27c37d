"""The statistics every analysis uses, each against scipy.stats or a computation written out here."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from tests.helpers import holm_by_hand
from transfer_learning import stats


def test_mean_and_interval_by_hand():
    mean, half = stats.mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302653 / 3 ** 0.5, rel=1e-6)  # t(2, 0.975) x sd / sqrt(3)
    assert np.isnan(stats.mean_ci([5.0])[1]) and stats.mean_ci([5.0, None])[0] == 5.0
    assert all(np.isnan(stats.mean_ci([])))


def test_paired_p_and_holm_against_scipy_and_by_hand():
    rng = np.random.default_rng(3)
    for n in (2, 5, 20):
        values = rng.normal(0.3, 1.0, n)
        assert stats.paired_p(list(values)) == pytest.approx(scipy_stats.ttest_1samp(values, 0.0).pvalue, rel=1e-12)
    assert np.isnan(stats.paired_p([1.0])) and np.isnan(stats.paired_p([2.0, 2.0]))
    # Holm: sorted 0.01, 0.02, 0.04, 0.3 times 4, 3, 2, 1, made monotone, capped at 1
    assert stats.holm([0.04, 0.01, 0.3, 0.02]) == pytest.approx([0.08, 0.04, 0.3, 0.06])
    assert stats.holm([0.5, 0.4]) == pytest.approx([0.8, 0.8])
    p = rng.uniform(0, 0.2, 9)
    assert stats.holm(list(p)) == pytest.approx(list(holm_by_hand(p)))


@pytest.mark.parametrize("centre", [0.0, 0.1, 0.4])
def test_tost_is_the_larger_of_scipys_two_one_sided_tests(centre):
    values = np.random.default_rng(7).normal(centre, 0.3, 12)
    above = scipy_stats.ttest_1samp(values, -0.25, alternative="greater").pvalue
    below = scipy_stats.ttest_1samp(values, 0.25, alternative="less").pvalue
    assert stats.tost_p(list(values), 0.25) == pytest.approx(max(above, below), rel=1e-10)
    assert np.isnan(stats.tost_p([0.1], 0.25))


def test_a_new_cells_prediction_interval_is_the_pooled_mean_widened_by_the_cells_spread():
    prediction_interval = stats.prediction_interval
    low, high = prediction_interval(0.5, 0.2, 0.09, 6)
    half = scipy_stats.t.ppf(0.975, 4) * (0.09 + 0.04) ** 0.5
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-12)
    assert prediction_interval(0.5, 0.2, 0.0, 6) == pytest.approx((0.5 - 0.2 * scipy_stats.t.ppf(0.975, 4),
                                                                     0.5 + 0.2 * scipy_stats.t.ppf(0.975, 4)))
    assert all(math.isnan(v) for v in prediction_interval(0.5, 0.2, 0.09, 2))
    assert all(math.isnan(v) for v in prediction_interval(0.5, 0.2, math.nan, 6))
