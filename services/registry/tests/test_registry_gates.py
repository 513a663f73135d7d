"""The default policy's gates, as CEL over the typed input: the numbers in every message, the tolerance, the
direction of error metrics, fairness (for a first version too), the fresh comparison, and bad policies."""

import math

import pytest

from conveyor_registry import gate_input
from conveyor_registry.errors import PolicyInvalid
from conveyor_registry.gates import compile_policy, enforced_pass, split_template
from conveyor_registry.policy import lower_is_better, num
from conveyor_registry.policy_doc import default_policy, digest_of, parse, parse_text
from conveyor_registry.tables import ModelVersion, RegisteredModel

POLICY = default_policy()
GATES = compile_policy(POLICY)
MODEL = RegisteredModel(name="churn", task="classification")


def version(n: int, metrics: dict, gaps: tuple = (("sex", 0.05, 0.08),), comparison: dict | None = None,
            metric: str = "roc_auc") -> ModelVersion:
    return ModelVersion(model_name="churn", version=n, run_id=f"r{n}", dataset_id="d", artifact_uri="a",
                        primary_metric=metric, metrics=metrics, comparison=comparison or {}, training={},
                        fairness=[{"attribute": a, "demographic_parity_difference": p, "equalized_odds_difference": o,
                                   "selection_rate": {"F": 0.4, "M": 0.45}} for a, p, o in gaps])


def judge(candidate: ModelVersion, champion: ModelVersion | None) -> tuple[bool, dict[str, str]]:
    results = GATES.evaluate("production", gate_input.build(MODEL, candidate, champion, "production", "low", POLICY))
    return enforced_pass(results), {r.rule: r.message for r in results if r.mode == "enforce" or r.passed}


def test_no_champion_promotes_and_says_so():
    passed, said = judge(version(1, {"roc_auc": 0.9}), None)
    assert passed
    assert said["no_worse_than_champion"] == "no champion yet: v1 becomes champion with roc_auc 0.900"
    assert said["fair_across_groups"] == "fairness gaps within max 0.2 (largest 0.080)"


def test_a_first_version_with_an_unfair_gap_is_not_promoted():
    passed, said = judge(version(1, {"roc_auc": 0.9}, gaps=(("sex", 0.35, 0.1),)), None)
    assert not passed
    assert said["fair_across_groups"] == "fairness gap over max 0.2 (largest 0.350) or not measured for: sex"


@pytest.mark.parametrize(("candidate", "champion", "passed", "message"), [
    (0.991, 0.99, True, "roc_auc 0.991 >= champion v1 0.990 - 0.01"),
    (0.985, 0.99, True, "roc_auc 0.985 >= champion v1 0.990 - 0.01"),
    (0.98, 0.99, True, "roc_auc 0.980 >= champion v1 0.990 - 0.01"),  # on the boundary, despite float rounding
    (0.95, 0.99, False, "roc_auc 0.950 < champion v1 0.990 - 0.01"),
])
def test_the_primary_metric_against_the_champion(candidate, champion, passed, message):
    ok, said = judge(version(2, {"roc_auc": candidate}), version(1, {"roc_auc": champion}))
    assert (ok, said["no_worse_than_champion"]) == (passed, message)


@pytest.mark.parametrize(("candidate", "passed", "message"), [
    (0.4, True, "rmse 0.400 <= champion v1 0.500 + 0.01"),
    (0.505, True, "rmse 0.505 <= champion v1 0.500 + 0.01"),
    (0.6, False, "rmse 0.600 > champion v1 0.500 + 0.01"),
])
def test_error_metrics_are_lower_is_better(candidate, passed, message):
    assert lower_is_better("rmse") and not lower_is_better("roc_auc")
    ok, said = judge(version(2, {"rmse": candidate}, metric="rmse"), version(1, {"rmse": 0.5}, metric="rmse"))
    assert (ok, said["no_worse_than_champion"]) == (passed, message)


@pytest.mark.parametrize("gaps", [(("sex", 0.3, 0.05),), (("sex", 0.05, 0.25),), (("sex", math.nan, 0.05),)])
def test_a_fairness_gap_over_the_limit_or_unmeasured_blocks_a_better_model(gaps):
    passed, said = judge(version(2, {"roc_auc": 0.999}, gaps=gaps), version(1, {"roc_auc": 0.9}))
    assert not passed
    assert said["no_worse_than_champion"].startswith("roc_auc 0.999 >= champion v1")
    assert said["fair_across_groups"].endswith("for: sex")


def test_a_gap_exactly_at_the_limit_is_allowed_and_no_report_is_named():
    assert judge(version(2, {"roc_auc": 0.95}, gaps=(("sex", 0.2, 0.2),)), version(1, {"roc_auc": 0.95}))[0]
    passed, said = judge(version(2, {"roc_auc": 0.95}, gaps=()), version(1, {"roc_auc": 0.95}))
    assert passed and said["fair_across_groups"] == "no fairness gaps reported"


def test_a_champion_without_the_metric_is_not_silently_replaced():
    passed, said = judge(version(2, {"roc_auc": 0.9}), version(1, {"accuracy": 0.9}))
    assert not passed
    assert said["champion_measured"] == "champion v1 has no roc_auc to compare with; promote by hand"


def test_the_fresh_numbers_decide_when_they_judged_the_champion():
    fresh = {"champion_version": 1, "champion_metrics": {"roc_auc": 0.61}, "challenger_metrics": {"roc_auc": 0.74},
             "rows": 240, "description": "the newest 240 labelled rows"}
    passed, said = judge(version(2, {"roc_auc": 0.71}, comparison=fresh), version(1, {"roc_auc": 0.80}))
    assert passed
    assert said["no_worse_than_champion"] == "roc_auc 0.740 >= champion v1 0.610 - 0.01 on the newest 240 labelled rows"
    stale = {**fresh, "champion_version": 3}  # judged another version than the champion: holdout numbers decide
    passed, said = judge(version(2, {"roc_auc": 0.71}, comparison=stale), version(1, {"roc_auc": 0.80}))
    assert not passed and said["no_worse_than_champion"] == "roc_auc 0.710 < champion v1 0.800 - 0.01"


def test_tiny_numbers_keep_their_digits():
    assert (num(0.00012), num(0.0), num(12.3456)) == ("0.00012", "0.000", "12.346")


def test_a_rule_that_cannot_be_evaluated_fails_alone_with_the_reason():
    policy = parse({**POLICY.as_json(), "rules": [
        {"name": "needs_accuracy", "expr": "candidate.metrics.accuracy > 0.5"},
        {"name": "always", "expr": "true", "pass": "fine {metric.name}"}]})
    results = compile_policy(policy).evaluate(
        "production", gate_input.build(MODEL, version(1, {"roc_auc": 0.9}), None, "production", "low", policy))
    assert [(r.rule, r.passed) for r in results] == [("needs_accuracy", False), ("always", True)]
    assert "could not be evaluated" in results[0].message and "accuracy" in results[0].message
    assert results[1].message == "fine roc_auc"


def test_modes_warn_and_audit_never_block():
    policy = parse({**POLICY.as_json(), "rules": [
        {"name": "w", "expr": "false", "mode": "warn", "fail": "w failed"},
        {"name": "a", "expr": "false", "mode": "audit"}, {"name": "e", "expr": "true"}]})
    results = compile_policy(policy).evaluate(
        "production", gate_input.build(MODEL, version(1, {"roc_auc": 0.9}), None, "production", "low", policy))
    assert enforced_pass(results) and [r.passed for r in results] == [False, False, True]


@pytest.mark.parametrize(("change", "named"), [
    ({"rules": [{"name": "x", "expr": "1 +"}]}, "rules.x.expr: not valid CEL"),
    ({"rules": [{"name": "x", "expr": "true", "pass": "{1 +}"}]}, "message placeholder"),
    ({"rules": [{"name": "x", "expr": "true", "mode": "block"}]}, "rules.0.mode"),
    ({"rules": [{"name": "x", "expr": "true", "aliases": ["canary"]}]}, "which the policy does not govern"),
    ({"aliases": {"production": {"quorum": {"low": {"approvals": 0}}}}}, "missing: medium, high"),
    ({"aliases": {"champion": POLICY.as_json()["aliases"]["production"]}}, "another name of 'production'"),
])
def test_a_policy_that_cannot_run_is_refused_naming_the_field(change, named):
    with pytest.raises(PolicyInvalid, match=named.replace(".", r"\.").replace("(", r"\(")):
        parse({**POLICY.as_json(), **change})


def test_the_digest_is_the_same_for_toml_and_json_in_any_order():
    import json

    as_json = POLICY.as_json()
    reordered = json.dumps(dict(reversed(list(as_json.items()))))
    assert digest_of(parse_text(reordered).as_json()) == digest_of(as_json)


def test_placeholders_keep_braces_inside_cel_strings():
    parts = split_template('a {x ? "}" : "{"} b {y:.2f}')
    assert [getattr(p, "source", p) for p in parts] == ["a ", 'x ? "}" : "{"', " b ", "y"]
