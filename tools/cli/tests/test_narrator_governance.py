"""The demo's narration of issue 12's events: who asked, what the gates said, who closed the request."""

from conveyor.events.v1 import events_pb2 as ev
from conveyor_cli.narrator import describe


def test_the_gates_name_the_enforced_rules_that_failed():
    gates = [ev.GateResult(rule="fair_across_groups", mode="enforce", passed=False),
             ev.GateResult(rule="consent_known", mode="audit", passed=False),
             ev.GateResult(rule="no_worse_than_champion", mode="enforce", passed=True)]
    text = describe(ev.PromotionGatesEvaluated(model_name="churn", version=2, alias="production", passed=False,
                                               policy_version=3, risk_tier="high", approvals_required=2, gates=gates))
    assert text == ("churn v2 -> production: gates failed: fair_across_groups under policy v3, risk high, "
                    "2 approval(s) needed")


def test_a_closed_request_says_its_state_and_who_closed_it():
    closed = ev.PromotionClosed(model_name="churn", version=2, alias="production", state="approved", closed_by="policy")
    assert describe(closed) == "request for churn v2 -> production approved by policy"
    approval = ev.PromotionApprovalRecorded(model_name="churn", version=2, alias="production", approver="mia",
                                            role="manager", approvals=1, approvals_required=2)
    assert describe(approval) == "mia (manager) approved churn v2 -> production: 1 of 2"
