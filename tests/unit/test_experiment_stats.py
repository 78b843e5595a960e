"""The experiment report's statistics recover a planted effect with the coverage they claim.

Monte Carlo: a champion curing 20 % and a challenger planted at +5 points, many replications.
The seed is fixed, so each assertion is a fixed result; the tolerance bands are what the
claimed coverage or power allows for that many replications (an exact binomial test at 0.1 %),
so an interval that covered 90 % (or a power of 60 %) would fail them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from rung.experiment_stats import (
    Arm,
    accounts_per_arm,
    cure_interval,
    difference_interval,
    difference_intervals,
    power_of,
)

REPLICATIONS = 400
CHAMPION_RATE = 0.20
PLANTED = 0.05
PER_ARM = 2000
TOLERANCE = 0.001  # two-sided p-value below which the observed rate contradicts the claim


def _replications(per_arm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    champion = rng.binomial(per_arm, CHAMPION_RATE, REPLICATIONS)
    challenger = rng.binomial(per_arm, CHAMPION_RATE + PLANTED, REPLICATIONS)
    return challenger, champion


def test_the_difference_interval_covers_a_planted_five_points_95_percent_of_the_time() -> None:
    # Given 400 replications of an experiment with +5 points planted
    challenger, champion = _replications(PER_ARM, seed=20261202)
    # When each gets Newcombe's 95 % interval of the difference
    low, high = difference_intervals(challenger, PER_ARM, champion, PER_ARM)
    covered = int(np.sum((low <= PLANTED) & (high >= PLANTED)))
    # Then the intervals hold the planted effect about 95 % of the time
    assert binomtest(covered, REPLICATIONS, 0.95).pvalue > TOLERANCE, covered
    # And the estimates centre on it
    estimates = (challenger - champion) / PER_ARM
    assert abs(float(estimates.mean()) - PLANTED) < 3 * float(estimates.std()) / REPLICATIONS**0.5


def test_a_no_effect_experiment_is_called_significant_about_5_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    a = rng.binomial(PER_ARM, CHAMPION_RATE, REPLICATIONS)
    b = rng.binomial(PER_ARM, CHAMPION_RATE, REPLICATIONS)
    low, high = difference_intervals(a, PER_ARM, b, PER_ARM)
    false_alarms = int(np.sum((low > 0) | (high < 0)))
    assert binomtest(false_alarms, REPLICATIONS, 0.05).pvalue > TOLERANCE, false_alarms


def test_each_variant_interval_covers_its_true_cure_rate_95_percent_of_the_time() -> None:
    challenger, _ = _replications(300, seed=11)  # small arms: where Wilson earns its keep
    covered = sum(
        cure_interval(Arm("b", 300, int(cured))).holds(CHAMPION_RATE + PLANTED)
        for cured in challenger
    )
    assert binomtest(covered, REPLICATIONS, 0.95).pvalue > TOLERANCE, covered


def test_the_sample_size_for_the_planted_effect_gives_the_power_it_promises() -> None:
    # Given the accounts per arm the report asks for, to detect +5 points at 20 %
    needed = accounts_per_arm(CHAMPION_RATE, PLANTED)
    # (about 1 100 per arm by the usual arcsine formula; Cohen's h = 0.12)
    assert 1000 < needed < 1200
    # When 400 experiments of that size are run with the effect planted
    challenger, champion = _replications(needed, seed=3)
    low, _ = difference_intervals(challenger, needed, champion, needed)
    found = int(np.sum(low > 0))
    # Then the effect is found about 80 % of the time
    assert binomtest(found, REPLICATIONS, 0.80).pvalue > TOLERANCE, found
    assert power_of(CHAMPION_RATE, PLANTED, needed) == pytest.approx(0.80, abs=0.01)


def test_the_single_difference_interval_matches_the_vectorised_one() -> None:
    single = difference_interval(Arm("b", 1000, 250), Arm("a", 1000, 200))
    low, high = difference_intervals(np.array([250]), 1000, np.array([200]), 1000)
    assert single is not None
    assert (single.low, single.high) == pytest.approx((float(low[0]), float(high[0])))
    assert single.low < 0.05 < single.high


def test_an_empty_arm_has_no_difference_and_the_widest_rate_interval() -> None:
    assert difference_interval(Arm("b", 0, 0), Arm("a", 10, 1)) is None
    interval = cure_interval(Arm("b", 0, 0))
    assert (interval.low, interval.high) == (0.0, 1.0)


def test_a_smaller_effect_needs_more_accounts() -> None:
    assert accounts_per_arm(0.2, 0.02) > accounts_per_arm(0.2, 0.05) > accounts_per_arm(0.2, 0.1)
