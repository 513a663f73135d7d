import pytest

from conveyor_monitor.fairness import equalized_odds, parity, positive_label


def groups_and_labels(north_rate: float, south_rate: float, n: int = 100) -> tuple[list[str], list[str]]:
    north = ["1"] * round(n * north_rate) + ["0"] * (n - round(n * north_rate))
    south = ["1"] * round(n * south_rate) + ["0"] * (n - round(n * south_rate))
    return ["north"] * n + ["south"] * n, north + south


def test_a_large_significant_gap_is_degraded_with_fairlearn_numbers():
    groups, labels = groups_and_labels(0.6, 0.3)
    found = parity("clinic", groups, labels, "1")
    assert found.selection_rate == {"north": pytest.approx(0.6), "south": pytest.approx(0.3)}
    assert found.difference == pytest.approx(0.3) and found.ratio == pytest.approx(0.5)
    assert found.four_fifths_violated and found.p_value < 0.01 and found.degraded
    assert found.group_size == {"north": 100, "south": 100}


def test_a_gap_that_chance_explains_is_not_degraded():
    groups, labels = groups_and_labels(0.62, 0.48)  # ratio 0.77 breaks four-fifths, but p ~ 0.06
    found = parity("clinic", groups, labels, "1")
    assert found.four_fifths_violated and found.p_value > 0.01 and not found.degraded
    equal = parity("clinic", *groups_and_labels(0.5, 0.5), "1")
    assert equal.difference == 0 and equal.ratio == 1 and not equal.degraded


def test_small_groups_are_not_judged():
    groups, labels = groups_and_labels(0.9, 0.1, n=10)
    assert parity("clinic", groups, labels, "1", min_group_size=20) is None


def test_equalized_odds_and_positive_label():
    groups = ["a"] * 4 + ["b"] * 4
    truth = ["1", "1", "0", "0"] * 2
    predicted = ["1", "1", "0", "0", "1", "0", "1", "0"]  # b: TPR 0.5, FPR 0.5; a: TPR 1, FPR 0
    assert equalized_odds(groups, truth, predicted, "1") == pytest.approx(0.5)
    assert positive_label(["0", "1"]) == "1" and positive_label([]) == "1"


@pytest.mark.parametrize("seed", range(5))
def test_parity_numbers_equal_fairlearns_on_random_windows(seed):
    """Demographic parity is computed with numpy on the hot path; fairlearn's MetricFrame is the yardstick."""
    import numpy as np
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        selection_rate,
    )

    rng = np.random.default_rng(seed)
    groups = rng.choice(["east", "north", "south", "west"], 500, p=[0.4, 0.3, 0.25, 0.05]).tolist()
    labels = [str(int(rng.uniform() < {"east": 0.5, "north": 0.3, "south": 0.45, "west": 0.9}[g])) for g in groups]
    found = parity("clinic", groups, labels, "1", min_group_size=40)
    judged = [i for i, g in enumerate(groups) if groups.count(g) >= 40]
    kept = np.asarray(groups)[judged]
    selected = (np.asarray(labels)[judged] == "1").astype(int)
    frame = MetricFrame(metrics=selection_rate, y_true=selected, y_pred=selected, sensitive_features=kept)
    assert found.selection_rate == pytest.approx({str(k): float(v) for k, v in frame.by_group.items()}, rel=1e-12)
    assert found.difference == pytest.approx(demographic_parity_difference(selected, selected, sensitive_features=kept))
    assert found.ratio == pytest.approx(demographic_parity_ratio(selected, selected, sensitive_features=kept))
    assert "west" not in found.group_size  # fewer than 40 rows: not judged
