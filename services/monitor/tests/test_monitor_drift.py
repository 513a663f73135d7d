import math

import numpy as np
import pytest

from conveyor_monitor.drift import FeatureResult, compare_column, drift_share, evaluate_window, prepare_column
from conveyor_monitor.stattests import METHODS, as_sample, default_method, psi_reference_deciles


def test_same_distribution_is_not_drift_and_a_shift_is():
    rng = np.random.default_rng(7)
    same = compare_column("x", "numeric", rng.normal(0, 1, 1000), rng.normal(0, 1, 500))
    moved = compare_column("x", "numeric", rng.normal(0, 1, 1000), rng.normal(0.5, 1, 500))
    assert same.method == moved.method == "ks"
    assert not same.drifted and same.score >= 0.05 and same.psi < 0.1
    assert moved.drifted and moved.score < 1e-6 and moved.psi > 0.1


@pytest.mark.parametrize(
    ("reference", "current", "kind", "expected"),
    [
        (np.arange(1000.0), np.arange(300.0), "numeric", "ks"),
        (np.arange(1001.0), np.arange(300.0), "numeric", "wasserstein"),
        ([0, 1, 2, 3, 4] * 200, [0, 1] * 50, "numeric", "chisquare"),  # <= 5 values: a category
        ([0, 1] * 500, [1, 0] * 50, "numeric", "z"),
        (["a", "b", "c"] * 300, ["a"] * 10, "categorical", "chisquare"),
        (["a", "b"] * 500, ["a"] * 10, "categorical", "z"),
        (["a", "b", "c"] * 400, ["a"] * 10, "categorical", "jensenshannon"),
        ([0, 1, 2] * 400, [0] * 10, "numeric", "jensenshannon"),
    ],
)
def test_default_method_follows_evidently(reference, current, kind, expected):
    assert default_method(as_sample(reference, kind), as_sample(current, kind), kind) == expected


def test_shifted_categories_are_drift_and_same_ones_are_not():
    rng = np.random.default_rng(3)
    reference = [0] * 500 + [1] * 300 + [2] * 200
    same = rng.permutation([0.0] * 245 + [1.0] * 155 + [2.0] * 100).tolist()  # floats, as logged live
    shifted = rng.choice([0.0, 1.0, 2.0], size=500, p=[0.2, 0.3, 0.5]).tolist()
    assert not compare_column("c", "categorical", reference, same).drifted
    moved = compare_column("c", "categorical", reference, shifted)
    assert moved.method == "chisquare" and moved.drifted


def test_a_category_unseen_in_training_counts_and_one_category_everywhere_does_not():
    assert compare_column("c", "categorical", ["a", "b"] * 500, ["a", "b"] * 200 + ["c"] * 100).drifted
    single = compare_column("c", "categorical", [1] * 100, [1.0] * 50)
    assert single.score == 1.0 and not single.drifted


def test_distance_methods_drift_at_or_above_their_threshold():
    rng = np.random.default_rng(5)
    reference = rng.normal(0, 2, 2000)
    result = compare_column("x", "numeric", reference, reference + 0.4)  # 0.2 reference std
    assert result.method == "wasserstein" and result.threshold == 0.1
    assert result.score == pytest.approx(0.4 / np.std(reference), rel=1e-9) and result.drifted
    assert not METHODS["jensenshannon"].drifted(0.0999, 0.1) and METHODS["jensenshannon"].drifted(0.1, 0.1)


def test_psi_reference_deciles_known_value():
    # Reference deciles hold 10% each; the live sample puts 15% in the lower five and 5% in the upper five:
    # PSI = 5 * 0.05 * ln(1.5) + 5 * (-0.05) * ln(0.5) = 0.25 * (ln 1.5 + ln 2).
    reference = np.arange(1000, dtype=float)
    current = np.concatenate(
        [np.full(150, 100.0 * b + 50) for b in range(5)] + [np.full(50, 100.0 * b + 50) for b in range(5, 10)]
    )
    expected = 0.25 * (math.log(1.5) + math.log(2))
    assert psi_reference_deciles(reference, current, "numeric") == pytest.approx(expected, rel=1e-9)
    assert psi_reference_deciles(reference, reference, "numeric") == pytest.approx(0.0, abs=1e-12)


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
    prepared = [prepare_column(name, kind, reference[name]) for name, kind in kinds.items()]
    half = evaluate_window(prepared, current, 0.5, labels_ref, ["1"] * 250 + ["0"] * 50)
    assert half.drifted_features == ["x"]
    assert half.drift_share == pytest.approx(1 / 3)
    assert not half.dataset_drifted
    assert half.prediction is not None and half.prediction.method == "z" and half.prediction.drifted
    low_bar = evaluate_window(prepared, current, 1 / 3)
    assert low_bar.dataset_drifted and low_bar.prediction is None
    named = evaluate_window(prepared, current, 0.5, method="psi_evidently_sturges")
    assert {r.method for r in named.features} == {"psi_evidently_sturges"}


@pytest.mark.parametrize("rows_reference", [455, 1500])  # tests and distances
def test_the_prepared_window_path_gives_compare_columns_numbers(rows_reference):
    """The hot path caches the reference side and runs the KS tests of all columns in one call: same numbers."""
    rng = np.random.default_rng(rows_reference)
    reference = {
        "a": rng.normal(0, 1, rows_reference).tolist(),
        "b": [None if i % 10 == 0 else v for i, v in enumerate(rng.normal(3, 2, rows_reference))],  # gaps
        "few": rng.integers(0, 4, rows_reference).astype(float).tolist(),  # <= 5 values: a category
        "city": [None if i % 7 == 0 else c for i, c in enumerate(rng.choice(["oslo", "rome", "lima"], rows_reference))],
        "flag": rng.choice([True, False], rows_reference).tolist(),
    }
    kinds = {"a": "numeric", "b": "numeric", "few": "numeric", "city": "categorical", "flag": "boolean"}
    current = {
        "a": rng.normal(0.3, 1, 200).tolist(),
        "b": [float("nan") if i % 5 == 0 else v for i, v in enumerate(rng.normal(3, 2, 200))],
        "few": rng.integers(0, 4, 200).astype(float).tolist(),
        "city": ["" if i % 9 == 0 else c for i, c in enumerate(rng.choice(["oslo", "rome", "lima", "kyiv"], 200))],
        "flag": rng.choice([1.0, 0.0], 200, p=[0.7, 0.3]).tolist(),  # BOOL inputs are logged as numbers
    }
    prepared = [prepare_column(n, k, reference[n]) for n, k in kinds.items()]
    fast = {r.feature: r for r in evaluate_window(prepared, current).features}
    for name, kind in kinds.items():
        slow = compare_column(name, "numeric" if kind == "numeric" else "categorical", reference[name], current[name])
        assert fast[name] == slow, name
    assert fast["flag"].drifted and fast["city"].drifted  # True/1.0 are one category; "kyiv" was never seen


def test_gaps_are_left_out_and_a_column_of_gaps_is_not_judged():
    reference = ["a", None, "b", "a", None, "b"] * 50
    assert list(as_sample(reference, "categorical")) == ["a", "b", "a", "b"] * 50
    assert len(as_sample([1.0, float("nan"), None, 2.0], "numeric")) == 2
    prepared = [prepare_column("c", "categorical", reference), prepare_column("x", "numeric", list(range(300)))]
    result = evaluate_window(prepared, {"c": [""] * 50, "x": list(range(50))})
    assert [r.feature for r in result.features] == ["x"]
