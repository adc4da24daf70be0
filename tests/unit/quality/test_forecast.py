"""The forecast's maths: the Wilson interval against published values, the power-law fit
on synthetic learning curves with binomial noise, and what it says with too few rounds or
an unreachable target."""

from __future__ import annotations

import math

import numpy as np
import pytest

from activelearn.quality.forecast import MIN_ROUNDS, fit_curve, wilson_interval


@pytest.mark.parametrize("correct, n, low, high", [
    # Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (score)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    # 0/n and n/n: the bound is z²/(n + z²) away from the edge (0.2775 for n = 10)
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    (160, 200, 0.7391, 0.8495),
])
def test_wilson_interval_matches_published_values(correct, n, low, high) -> None:
    got = wilson_interval(correct, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)  # no items: nothing is known
    assert wilson_interval(100, 200, z=1.0)[1] - wilson_interval(100, 200, z=1.0)[0] < \
        wilson_interval(100, 200)[1] - wilson_interval(100, 200)[0]
    with pytest.raises(ValueError, match="correct must be 0 to n"):
        wilson_interval(11, 10)


def curve(a: float, b: float, c: float):
    return lambda n: a - b * np.asarray(n, dtype=float) ** -c


def noisy(acc, labels: np.ndarray, items: int, seed: int) -> np.ndarray:
    """Accuracies measured on `items` items each: Binomial(items, acc) / items."""
    m = np.full(len(labels), items)
    return np.random.default_rng(seed).binomial(m, acc(labels)) / m


def test_the_fit_recovers_a_noise_free_power_law() -> None:
    labels = np.array([100, 200, 400, 800, 1600, 3200])
    acc = curve(0.92, 2.0, 0.5)
    fit = fit_curve(labels, acc(labels), [10**6] * len(labels), resamples=20)
    assert (fit.a, fit.c) == pytest.approx((0.92, 0.5), rel=0.02)
    assert fit.predict(12800) == pytest.approx(float(acc(12800)), abs=1e-3)
    gain = fit.gain_per(3200, 1000)
    assert gain[0] == pytest.approx(float(acc(4200) - acc(3200)), rel=0.02)
    assert gain[1] <= gain[0] <= gain[2]


@pytest.mark.parametrize("seed", range(5))
def test_the_fit_recovers_a_power_law_with_binomial_noise(seed) -> None:
    labels = np.array([100, 200, 400, 800, 1600, 3200, 6400])
    acc = curve(0.92, 2.0, 0.5)
    fit = fit_curve(labels, noisy(acc, labels, 20_000, seed), [20_000] * len(labels),
                    seed=seed)
    assert fit.a == pytest.approx(0.92, abs=0.02)
    assert fit.c == pytest.approx(0.5, abs=0.1)
    estimate, low, high = fit.predict_band(6400)
    assert estimate == pytest.approx(float(acc(6400)), abs=0.005)
    assert low <= float(acc(6400)) <= high
    truth = float(acc(7400) - acc(6400))
    assert fit.gain_per(6400)[1] <= truth <= fit.gain_per(6400)[2]


@pytest.mark.parametrize("seed", range(4))
def test_labels_to_reach_a_target_from_rounds_up_to_2000_labels(seed) -> None:
    """Fitted on 250..2,000 labels (accuracy on 10,000 items), the labels at which the
    curve reaches its accuracy at 3,000 labels: within 25%, and inside the band."""
    labels = np.arange(250, 2001, 250)
    acc = curve(0.95, 1.5, 0.4)
    fit = fit_curve(labels, noisy(acc, labels, 10_000, seed), [10_000] * len(labels),
                    seed=seed)
    reach = fit.labels_to_reach(float(acc(3000)))
    assert reach is not None
    estimate, low, high = reach
    assert estimate == pytest.approx(3000, rel=0.25)
    assert low <= 3000 <= high


def test_a_target_above_the_asymptote_is_not_reached() -> None:
    labels = np.array([500, 1000, 1500, 2000])
    acc = curve(0.88, 1.0, 0.5)
    fit = fit_curve(labels, acc(labels), [2000] * 4, resamples=50)
    assert fit.labels_to_reach(fit.asymptote + 0.01) is None
    assert fit.labels_to_reach(1.0) is None
    reached = fit.labels_to_reach(0.80)  # below the first round: reached already
    assert reached is not None and reached[0] < 500


def test_too_few_rounds() -> None:
    assert MIN_ROUNDS == 3
    with pytest.raises(ValueError, match="needs 3 rounds at different label counts, got 2"):
        fit_curve([500, 1000, 1000], [0.8, 0.85, 0.86], [200, 200, 200])
    with pytest.raises(ValueError, match="equal-length"):
        fit_curve([500, 1000, 1500], [0.8, 0.85], [200, 200, 200])


def test_the_bootstrap_is_seeded_and_bands_widen_with_fewer_items() -> None:
    labels, accuracy = [500, 1000, 1500, 2000], [0.80, 0.835, 0.85, 0.862]
    first = fit_curve(labels, accuracy, [200] * 4, seed=3)
    again = fit_curve(labels, accuracy, [200] * 4, seed=3)
    assert np.array_equal(first.draws, again.draws)
    wide = first.gain_per(2000)
    narrow = fit_curve(labels, accuracy, [20_000] * 4, seed=3).gain_per(2000)
    assert wide[2] - wide[1] > narrow[2] - narrow[1]
    # the constraints hold in every resample
    assert np.all(first.draws[:, 0] <= 1) and np.all(first.draws[:, 1] >= 0)
    assert np.all(first.draws[:, 0] >= 0.8)  # a at least the best accuracy resampled
    assert all(math.isfinite(v) for v in first.predict_band(4000))
