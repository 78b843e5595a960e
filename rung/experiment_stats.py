"""The numbers of `rung experiments report`: cure rates with intervals, and sample sizes.

The formulas are statsmodels' (docs/experiments.md says why each):
- a variant's cure rate: Wilson score interval (`proportion_confint(method="wilson")`), which
  keeps its coverage near 95 % for small samples and rates near 0, where the textbook
  normal-approximation interval does not;
- a challenger minus the champion: Newcombe's hybrid score interval (method 10,
  `confint_proportions_2indep(method="newcomb")`), built from the two Wilson intervals;
- accounts still needed: per arm, for a two-sided test at `alpha` with `power`, to detect a
  difference of `min_effect` from the champion's rate (Cohen's h, `NormalIndPower`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
)

CONFIDENCE = 0.95  # the report's intervals
POWER = 0.80  # the usual planning power (Cohen 1988): a real effect is found 4 times in 5


@dataclass(frozen=True)
class Arm:
    """One variant's outcome: accounts that entered it, and how many of them were cured."""

    variant: str
    accounts: int
    cured: int

    @property
    def rate(self) -> float:
        return self.cured / self.accounts if self.accounts else 0.0


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high


def cure_interval(arm: Arm, confidence: float = CONFIDENCE) -> Interval:
    """The Wilson interval of the arm's cure rate (0..1 for an empty arm: nothing is known)."""
    if arm.accounts == 0:
        return Interval(0.0, 1.0)
    low, high = proportion_confint(arm.cured, arm.accounts, alpha=1 - confidence, method="wilson")
    return Interval(float(low), float(high))


def difference_interval(
    challenger: Arm, champion: Arm, confidence: float = CONFIDENCE
) -> Interval | None:
    """Newcombe's interval of challenger rate − champion rate; None if an arm is empty."""
    if challenger.accounts == 0 or champion.accounts == 0:
        return None
    low, high = confint_proportions_2indep(
        challenger.cured,
        challenger.accounts,
        champion.cured,
        champion.accounts,
        method="newcomb",
        compare="diff",
        alpha=1 - confidence,
    )
    return Interval(float(low), float(high))


def difference_intervals(
    challenger_cured: NDArray[np.int64],
    challenger_accounts: int,
    champion_cured: NDArray[np.int64],
    champion_accounts: int,
    confidence: float = CONFIDENCE,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Newcombe's interval for many replications at once (statsmodels takes arrays)."""
    low, high = confint_proportions_2indep(
        challenger_cured,
        challenger_accounts,
        champion_cured,
        champion_accounts,
        method="newcomb",
        compare="diff",
        alpha=1 - confidence,
    )
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def accounts_per_arm(
    baseline: float, min_effect: float, *, alpha: float = 1 - CONFIDENCE, power: float = POWER
) -> int:
    """Accounts each arm needs to detect `baseline + min_effect` against `baseline`."""
    target = min(max(baseline + min_effect, 1e-9), 1 - 1e-9)
    effect = abs(float(proportion_effectsize(target, min(max(baseline, 1e-9), 1 - 1e-9))))
    if effect == 0:
        raise ValueError("a minimum effect of 0 needs an infinite sample")
    needed = NormalIndPower().solve_power(
        effect_size=effect, alpha=alpha, power=power, ratio=1.0, alternative="two-sided"
    )
    return math.ceil(float(needed))


def power_of(
    baseline: float, min_effect: float, per_arm: int, *, alpha: float = 1 - CONFIDENCE
) -> float:
    """The chance a difference of `min_effect` is found with `per_arm` accounts in each arm."""
    if per_arm < 2:
        return 0.0
    target = min(max(baseline + min_effect, 1e-9), 1 - 1e-9)
    effect = abs(float(proportion_effectsize(target, min(max(baseline, 1e-9), 1 - 1e-9))))
    return float(
        NormalIndPower().power(
            effect_size=effect, nobs1=per_arm, alpha=alpha, ratio=1.0, alternative="two-sided"
        )
    )
