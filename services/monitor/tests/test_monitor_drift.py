import math

import numpy as np
import pytest

from conveyor_monitor.drift import (
    FeatureResult,
    chi2_test,
    drift_share,
    evaluate_window,
    ks_test,
    psi_decile,
)


def test_same_distribution_is_not_drift():
    rng = np.random.default_rng(7)
    result = ks_test("x", rng.normal(0, 1, 1000), rng.normal(0, 1, 500), 0.05)
    assert result.method == "ks"
    assert not result.drifted
    assert result.p_value >= 0.05
    assert result.psi is not None and result.psi < 0.1


def test_shifted_mean_is_drift():
    rng = np.random.default_rng(7)
    result = ks_test("x", rng.normal(0, 1, 1000), rng.normal(0.5, 1, 500), 0.05)
    assert result.drifted
    assert result.p_value < 1e-6
    assert result.psi > 0.1


def test_shifted_categories_are_drift_and_same_ones_are_not():
    rng = np.random.default_rng(3)
    reference = rng.choice([0, 1, 2], size=1000, p=[0.5, 0.3, 0.2]).tolist()
    same = rng.choice([0.0, 1.0, 2.0], size=500, p=[0.5, 0.3, 0.2]).tolist()  # floats as logged live
    shifted = rng.choice([0.0, 1.0, 2.0], size=500, p=[0.2, 0.3, 0.5]).tolist()
    assert not chi2_test("c", reference, same, 0.05).drifted
    moved = chi2_test("c", reference, shifted, 0.05)
    assert moved.method == "chi2" and moved.drifted


def test_a_category_unseen_in_training_counts():
    reference = ["a"] * 500 + ["b"] * 500
    current = ["a"] * 200 + ["b"] * 200 + ["c"] * 100
    assert chi2_test("c", reference, current, 0.05).drifted


def test_single_category_everywhere_is_no_drift():
    result = chi2_test("c", [1] * 100, [1.0] * 50, 0.05)
    assert result.p_value == 1.0 and not result.drifted


def test_psi_known_value():
    # Reference deciles hold 10% each; the live sample puts 15% in the lower five and 5% in the upper five:
    # PSI = 5 * 0.05 * ln(1.5) + 5 * (-0.05) * ln(0.5) = 0.25 * (ln 1.5 + ln 2).
    reference = np.arange(1000, dtype=float)
    current = np.concatenate(
        [np.full(150, 100.0 * b + 50) for b in range(5)] + [np.full(50, 100.0 * b + 50) for b in range(5, 10)]
    )
    assert psi_decile(reference, current) == pytest.approx(0.25 * (math.log(1.5) + math.log(2)), rel=1e-9)
    assert psi_decile(reference, reference) == pytest.approx(0.0, abs=1e-12)


def test_drift_share_counts_drifted_features():
    results = [FeatureResult(n, "ks", p, 0.05, p < 0.05) for n, p in [("a", 0.01), ("b", 0.5), ("c", 0.001)]]
    assert drift_share(results) == pytest.approx(2 / 3)
    assert drift_share([]) == 0.0


def test_window_is_drifted_when_share_reaches_threshold():
    rng = np.random.default_rng(11)
    kinds = {"x": "numeric", "y": "numeric", "c": "categorical"}
    reference = {"x": rng.normal(0, 1, 1000), "y": rng.normal(5, 2, 1000), "c": [0, 1] * 500}
    current = {"x": rng.normal(2, 1, 300), "y": rng.normal(5, 2, 300), "c": [1.0, 0.0] * 150}
    labels_ref = ["0"] * 500 + ["1"] * 500
    half = evaluate_window(kinds, reference, current, 0.05, 0.5, labels_ref, ["1"] * 250 + ["0"] * 50)
    assert half.drifted_features == ["x"]
    assert half.drift_share == pytest.approx(1 / 3)
    assert not half.dataset_drifted
    assert half.prediction is not None and half.prediction.drifted
    low_bar = evaluate_window(kinds, reference, current, 0.05, 1 / 3)
    assert low_bar.dataset_drifted
    assert low_bar.prediction is None
