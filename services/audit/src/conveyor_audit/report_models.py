"""A monthly report's per-model part, from ledger items only (pure): what served when, every promotion with
who asked and who approved, rollbacks, incidents and what followed, fairness and performance over time
against their thresholds, the consent flags and the retrains they caused. Every row keeps its ledger index.
"""

from collections import defaultdict
from typing import Any

from .report_data import Item

FOLLOW_UPS = ("RetrainRequested", "RetrainDeferred", "ModelTrained", "ModelPromoted", "PromotionDeclined")
INCIDENTS = ("DriftDetected", "FairnessDegraded", "PerformanceDegraded")
POLICY_DIGEST = "not recorded: the promotion policy has no digest until policy as code lands (issue 12 part B)"


def who(item: Item) -> str:
    principal = item.event.get("principal") or {}
    return principal.get("subject", "") or "not recorded"


def _version(item: Item) -> int:
    return int(item.event.get("version", 0))


def served(model: str, before: list[Item], items: list[Item], end: str) -> list[dict[str, Any]]:
    """Champion intervals in the period: the one in service at its start, then each promotion or rollback."""
    changes = [i for i in items if i.type == "ModelPromoted"]
    rows: list[dict[str, Any]] = []
    if before:
        last = before[-1]
        rows.append({"version": _version(last), "from": "before the period", "how": "in service at the start",
                     "ledger_index": last.index})
    for change in changes:
        if rows:
            rows[-1]["until"] = change.time
        rows.append({"version": _version(change), "from": change.time,
                     "how": "rollback" if change.event.get("action") == "rollback" else "promotion",
                     "ledger_index": change.index})
    if rows:
        rows[-1].setdefault("until", f"still serving at {end}")
    return rows


def gates(item: Item, promoted: bool) -> list[dict[str, str]]:
    """Each reason the policy gave. A promotion passed every gate it names; a decline names the failed one
    (structured per-gate results come with policy as code)."""
    reasons = item.event.get("reasons", [])
    return [{"gate": reason, "result": ("warning" if reason.startswith("warning") else "passed") if promoted
             else "declined"} for reason in reasons]


def promotions(items: list[Item]) -> list[dict[str, Any]]:
    rows = []
    for i in items:
        if i.type == "ModelPromoted" and i.event.get("action", "promote") != "rollback":
            approver = i.event.get("approved_by", "policy")
            rows.append({"ledger_index": i.index, "time": i.time, "version": _version(i),
                         "previous_version": int(i.event.get("previous_version", 0)), "requester": who(i),
                         "approvers": [approver], "policy_digest": POLICY_DIGEST, "gates": gates(i, True)})
        elif i.type == "PromotionDeclined":
            rows.append({"ledger_index": i.index, "time": i.time, "version": _version(i),
                         "previous_version": int(i.event.get("champion_version", 0)), "requester": who(i),
                         "approvers": [], "policy_digest": POLICY_DIGEST, "gates": gates(i, False),
                         "declined": True})
    return rows


def rollbacks(items: list[Item]) -> list[dict[str, Any]]:
    return [{"ledger_index": i.index, "time": i.time, "to_version": _version(i),
             "from_version": int(i.event.get("previous_version", 0)), "by": i.event.get("approved_by") or who(i),
             "reason": "; ".join(i.event.get("reasons", []))}
            for i in items if i.type == "ModelPromoted" and i.event.get("action") == "rollback"]


def splits(items: list[Item]) -> list[dict[str, Any]]:
    return [{"ledger_index": i.index, "time": i.time, "mode": i.event.get("mode") or "ended",
             "champion_version": int(i.event.get("champion_version", 0)),
             "candidate_version": int(i.event.get("candidate_version", 0)),
             "canary_weight": i.event.get("canary_weight", 0.0), "set_by": i.event.get("set_by") or who(i)}
            for i in items if i.type == "TrafficSplitSet"]


def incidents(items: list[Item]) -> list[dict[str, Any]]:
    rows = []
    for i in items:
        if i.type not in INCIDENTS:
            continue
        later = [f for f in items if f.index > i.index and f.type in FOLLOW_UPS][:4]
        rows.append({"ledger_index": i.index, "time": i.time, "kind": i.type.removesuffix("Detected")
                     .removesuffix("Degraded").lower(), "version": _version(i), "summary": _incident_summary(i),
                     "followed_by": [{"ledger_index": f.index, "type": f.type, "time": f.time} for f in later]})
    return rows


def _incident_summary(i: Item) -> str:
    e = i.event
    if i.type == "DriftDetected":
        drifted = [f.get("feature") for f in e.get("features", []) if f.get("drifted")]
        return f"{e.get('drift_share', 0.0):.0%} of features drifted ({', '.join(drifted) or 'none named'})"
    if i.type == "FairnessDegraded":
        return (f"{e.get('attribute', '?')}: demographic parity difference "
                f"{e.get('demographic_parity_difference', 0.0):.3f} over {e.get('difference_threshold', 0.0):.3f}")
    return f"degraded: {', '.join(e.get('degraded', [])) or 'none named'} (tolerance {e.get('tolerance', 0.0)})"


def fairness_series(items: list[Item], threshold: float | None) -> list[dict[str, Any]]:
    rows = []
    for i in items:
        if i.type == "ModelTrained":
            for gap in i.event.get("fairness", []):
                rows.append({"ledger_index": i.index, "time": i.time, "source": "training holdout",
                             "attribute": gap.get("attribute"), "value": gap.get("demographic_parity_difference", 0.0),
                             "threshold": threshold})
        elif i.type == "FairnessDegraded":
            rows.append({"ledger_index": i.index, "time": i.time, "source": "production",
                         "attribute": i.event.get("attribute"),
                         "value": i.event.get("demographic_parity_difference", 0.0),
                         "threshold": i.event.get("difference_threshold")})
    return rows


def performance_series(items: list[Item]) -> list[dict[str, Any]]:
    rows = []
    for i in items:
        if i.type == "ModelTrained":
            metric = i.event.get("training", {}).get("primary_metric", "")
            if metric in i.event.get("metrics", {}):
                rows.append({"ledger_index": i.index, "time": i.time, "source": "training holdout", "metric": metric,
                             "value": i.event["metrics"][metric], "threshold": None})
        elif i.type == "PerformanceDegraded":
            tolerance = i.event.get("tolerance", 0.0)
            for metric, value in i.event.get("metrics", {}).items():
                baseline = i.event.get("baseline", {}).get(metric)
                rows.append({"ledger_index": i.index, "time": i.time, "source": "production", "metric": metric,
                             "value": value, "threshold": None if baseline is None else baseline - tolerance})
    return rows


def consent_of(model: str, items: list[Item], runs: dict[str, int]) -> dict[str, Any]:
    flagged = [{"ledger_index": i.index, "time": i.time, "version": _version(i), "reason": i.event.get("reason", ""),
                "champion": bool(i.event.get("champion"))} for i in items if i.type == "ModelVersionFlagged"]
    retrains = [{"ledger_index": i.index, "time": i.time, "run_id": i.event.get("run_id", ""),
                 "version": runs.get(i.event.get("run_id", "")),
                 "excluded_rows": int(i.event.get("consent", {}).get("excluded_rows", 0))}
                for i in items if i.type == "ModelTrained" and i.event.get("trigger") == "consent_withdrawn"]
    return {"flagged_versions": flagged, "retrains": retrains}


def by_model(items: list[Item]) -> dict[str, list[Item]]:
    grouped: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        name = item.event.get("model_name")
        if name:
            grouped[name].append(item)
    return grouped


def model_section(model: str, items: list[Item], before: list[Item], end: str,
                  fairness_threshold: float | None) -> dict[str, Any]:
    runs = {i.event.get("run_id", ""): _version(i) for i in items if i.type == "ModelRegistered"}
    return {
        "model": model,
        "served": served(model, before, items, end),
        "traffic_splits": splits(items),
        "promotions": promotions(items),
        "rollbacks": rollbacks(items),
        "incidents": incidents(items),
        "fairness_series": fairness_series(items, fairness_threshold),
        "performance_series": performance_series(items),
        "consent": consent_of(model, items, runs),
        "trainings": [{"ledger_index": i.index, "time": i.time, "run_id": i.event.get("run_id", ""),
                       "version": runs.get(i.event.get("run_id", "")), "trigger": i.event.get("trigger", ""),
                       "datasets": len(i.event.get("training_dataset_ids", [])) or 1,
                       "rows": int(i.event.get("training_rows", 0))}
                      for i in items if i.type == "ModelTrained"],
    }
