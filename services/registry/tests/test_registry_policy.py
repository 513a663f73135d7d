"""The promotion policy, branch by branch, including the wording of its reasons."""

import pytest

from conveyor_registry.policy import Comparison, Contender, Gap, Limits, evaluate, lower_is_better, num

LIMITS = Limits(metric_tolerance=0.01, max_fairness_gap=0.2)
FAIR = (Gap("sex", 0.05, 0.08),)


def auc(version: int, value: float, fairness=FAIR) -> Contender:
    return Contender(version=version, metrics={"roc_auc": value}, fairness=fairness)


def rmse(version: int, value: float) -> Contender:
    return Contender(version=version, metrics={"rmse": value}, fairness=())


def test_no_champion_promotes_and_says_so():
    verdict = evaluate("roc_auc", auc(1, 0.9), None, LIMITS)
    assert verdict.promote
    assert verdict.reasons[0] == "no champion yet: v1 becomes champion with roc_auc 0.900"
    assert "fairness gaps within max 0.2 (largest 0.080)" in verdict.reasons


def test_no_champion_still_names_an_unfair_gap_as_a_warning():
    verdict = evaluate("roc_auc", auc(1, 0.9, (Gap("sex", 0.35, 0.1),)), None, LIMITS)
    assert verdict.promote
    assert "warning: demographic_parity_difference for sex 0.350 > max 0.2" in verdict.reasons


def test_better_candidate_is_promoted_with_the_numbers():
    verdict = evaluate("roc_auc", auc(2, 0.991), auc(1, 0.990), LIMITS)
    assert verdict.promote
    assert verdict.reasons[0] == "roc_auc 0.991 >= champion v1 0.990 - 0.01"


def test_slightly_worse_within_tolerance_is_promoted():
    verdict = evaluate("roc_auc", auc(2, 0.985), auc(1, 0.990), LIMITS)
    assert verdict.promote
    assert verdict.reasons[0] == "roc_auc 0.985 >= champion v1 0.990 - 0.01"


def test_exactly_on_the_tolerance_boundary_is_promoted():
    assert evaluate("roc_auc", auc(2, 0.98), auc(1, 0.99), LIMITS).promote


def test_worse_beyond_tolerance_is_declined():
    verdict = evaluate("roc_auc", auc(2, 0.95), auc(1, 0.99), LIMITS)
    assert not verdict.promote
    assert verdict.reasons[0] == "roc_auc 0.950 < champion v1 0.990 - 0.01"


@pytest.mark.parametrize("metric", ["rmse", "mae", "MSE", "log_loss"])
def test_error_metrics_are_lower_is_better(metric):
    assert lower_is_better(metric)
    assert not lower_is_better("roc_auc")


def test_error_metric_lower_is_promoted():
    verdict = evaluate("rmse", rmse(2, 0.40), rmse(1, 0.50), LIMITS)
    assert verdict.promote
    assert verdict.reasons[0] == "rmse 0.400 <= champion v1 0.500 + 0.01"


def test_error_metric_slightly_higher_within_tolerance_is_promoted():
    assert evaluate("rmse", rmse(2, 0.505), rmse(1, 0.50), LIMITS).promote


def test_error_metric_higher_beyond_tolerance_is_declined():
    verdict = evaluate("rmse", rmse(2, 0.60), rmse(1, 0.50), LIMITS)
    assert not verdict.promote
    assert verdict.reasons[0] == "rmse 0.600 > champion v1 0.500 + 0.01"


@pytest.mark.parametrize(
    ("gap", "named"),
    [
        (Gap("sex", 0.25, 0.1), "demographic_parity_difference for sex 0.250 > max 0.2"),
        (Gap("age_band", 0.1, -0.3), "equalized_odds_difference for age_band 0.300 > max 0.2"),
    ],
)
def test_a_fairness_gap_over_the_limit_declines_a_better_model(gap, named):
    verdict = evaluate("roc_auc", auc(2, 0.999, (gap,)), auc(1, 0.9), LIMITS)
    assert not verdict.promote
    assert named in verdict.reasons
    assert verdict.reasons[0].startswith("roc_auc 0.999 >= champion v1")


def test_gap_exactly_at_the_limit_is_allowed():
    assert evaluate("roc_auc", auc(2, 0.95, (Gap("sex", 0.2, 0.2),)), auc(1, 0.95), LIMITS).promote


def test_no_fairness_report_is_named():
    verdict = evaluate("roc_auc", auc(2, 0.95, ()), auc(1, 0.95), LIMITS)
    assert verdict.promote
    assert "no fairness gaps reported" in verdict.reasons


def test_champion_without_the_metric_is_not_silently_replaced():
    champion = Contender(version=1, metrics={"accuracy": 0.9})
    verdict = evaluate("roc_auc", auc(2, 0.95), champion, LIMITS)
    assert not verdict.promote
    assert verdict.reasons[0] == "champion v1 has no roc_auc to compare with; promote manually"


def test_tiny_numbers_keep_their_digits():
    assert num(0.00012) == "0.00012"
    assert num(0.0) == "0.000"
    assert num(12.3456) == "12.346"


def test_an_unmeasurable_fairness_gap_blocks_promotion_over_a_champion():
    verdict = evaluate("roc_auc", auc(2, 0.995, (Gap("sex", 0.05, float("nan")),)), auc(1, 0.99), LIMITS)
    assert not verdict.promote
    assert "equalized_odds_difference for sex could not be measured (nan); review manually" in verdict.reasons


# --- a fresh comparison: champion and candidate judged by the candidate's run on the same newest rows ---

FRESH = "the newest 240 labelled production rows (of 800 in fair v2) that v1 served"


def retrained(version: int, holdout: float, champion_fresh: float, candidate_fresh: float,
              judged: int = 1) -> Contender:
    comparison = Comparison(champion_version=judged, champion={"roc_auc": champion_fresh},
                            candidate={"roc_auc": candidate_fresh}, description=FRESH)
    return Contender(version=version, metrics={"roc_auc": holdout}, fairness=FAIR, comparison=comparison)


def test_the_fresh_numbers_decide_and_both_are_named():
    verdict = evaluate("roc_auc", retrained(2, 0.71, champion_fresh=0.62, candidate_fresh=0.71), auc(1, 0.80), LIMITS)
    assert verdict.promote  # its holdout 0.71 is below the champion's old 0.80, but on the same fresh rows it wins
    assert verdict.reasons[0] == f"roc_auc 0.710 >= champion v1 0.620 - 0.01 on {FRESH}"


def test_worse_on_the_fresh_rows_is_declined_whatever_the_old_holdout_said():
    verdict = evaluate("roc_auc", retrained(2, 0.95, champion_fresh=0.80, candidate_fresh=0.70), auc(1, 0.90), LIMITS)
    assert not verdict.promote
    assert verdict.reasons[0] == f"roc_auc 0.700 < champion v1 0.800 - 0.01 on {FRESH}"


def test_a_comparison_with_another_version_than_the_champion_is_set_aside():
    candidate = retrained(3, 0.91, champion_fresh=0.5, candidate_fresh=0.9, judged=1)
    verdict = evaluate("roc_auc", candidate, auc(2, 0.90), LIMITS)
    assert verdict.promote
    assert verdict.reasons[:2] == (
        "the fresh comparison judged v1, but the champion is v2: compared the holdout numbers instead",
        "roc_auc 0.910 >= champion v2 0.900 - 0.01",
    )


def test_a_champion_without_the_metric_on_the_fresh_rows_needs_a_person():
    candidate = Contender(2, {"roc_auc": 0.9}, FAIR, Comparison(1, {}, {"roc_auc": 0.9}, FRESH))
    verdict = evaluate("roc_auc", candidate, auc(1, 0.8), LIMITS)
    assert not verdict.promote
    assert verdict.reasons[0] == "champion v1 has no roc_auc on the fresh holdout to compare with; promote manually"
