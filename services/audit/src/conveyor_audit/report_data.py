"""What a compliance report says, computed from ledger entries only (pure: entries in, JSON-ready data out).

Each item keeps its ledger index, so a reader can ask for that entry's inclusion proof.
"""

import re
from dataclasses import dataclass
from typing import Any

from .adapters.rows import Entry
from .leaf import event_as_dict

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SHORT = "conveyor.events.v1."


@dataclass(frozen=True)
class Item:
    index: int
    type: str       # short name, e.g. ModelPromoted
    time: str
    event: dict[str, Any]


class MonthInvalid(ValueError):
    """A month that is not YYYY-MM."""


def month_bounds(month: str) -> tuple[str, str]:
    """[start, end) of a YYYY-MM month as ISO prefixes that compare correctly with ce_time strings."""
    match = MONTH.match(month)
    if match is None:
        raise MonthInvalid(f"month {month!r} must be YYYY-MM, e.g. 2025-06")
    year, number = int(match.group(1)), int(match.group(2))
    after = (year + 1, 1) if number == 12 else (year, number + 1)
    return f"{year:04d}-{number:02d}-01T00:00:00", f"{after[0]:04d}-{after[1]:02d}-01T00:00:00"


def items_of(entries: list[Entry]) -> list[Item]:
    items = []
    for entry in entries:
        try:
            event = event_as_dict(entry.leaf_bytes)
        except (ValueError, KeyError):  # a damaged leaf is reported by verify, not silently dropped here
            event = {"undecodable": True}
        items.append(Item(entry.idx, entry.type.removeprefix(SHORT), entry.time, event))
    return items


def _of(items: list[Item], *types: str) -> list[Item]:
    return [i for i in items if i.type in types]


def _version_of_run(items: list[Item]) -> dict[str, int]:
    return {i.event.get("run_id", ""): int(i.event.get("version", 0)) for i in _of(items, "ModelRegistered")}


def models_section(items: list[Item]) -> dict[str, list[dict[str, Any]]]:
    def row(item: Item, **fields: Any) -> dict[str, Any]:
        # principal: who caused the event, as the event names it (absent from events older than issue 12)
        return {"ledger_index": item.index, "time": item.time, "model": item.event.get("model_name", ""),
                "principal": item.event.get("principal"), **fields}

    promoted = _of(items, "ModelPromoted")
    return {
        "trained": [row(i, run_id=i.event.get("run_id"), dataset_id=i.event.get("dataset_id"),
                        metrics=i.event.get("metrics", {}), trigger=i.event.get("trigger", ""))
                    for i in _of(items, "ModelTrained")],
        "training_failed": [row(i, stage=i.event.get("stage"), reason=i.event.get("reason"))
                            for i in _of(items, "ModelTrainingFailed")],
        "promoted": [row(i, version=int(i.event.get("version", 0)), decision="promote",
                         reasons=i.event.get("reasons", []), approved_by=i.event.get("approved_by", "policy"))
                     for i in promoted if i.event.get("action", "promote") != "rollback"],
        "rolled_back": [row(i, version=int(i.event.get("version", 0)), decision="rollback",
                            reasons=i.event.get("reasons", []), approved_by=i.event.get("approved_by", ""))
                        for i in promoted if i.event.get("action") == "rollback"],
        "declined": [row(i, version=int(i.event.get("version", 0)), decision="decline",
                         reasons=i.event.get("reasons", []), approved_by="policy")
                     for i in _of(items, "PromotionDeclined")],
        "deployed": [row(i, version=int(i.event.get("version", 0)), instance=i.event.get("instance", ""))
                     for i in _of(items, "ModelDeployed")],
    }


def drift_section(items: list[Item]) -> list[dict[str, Any]]:
    """Each drift incident with what followed it for the same model (retrain, training, promotion)."""
    incidents = []
    for drift in _of(items, "DriftDetected"):
        model = drift.event.get("model_name", "")
        later = [i for i in items if i.index > drift.index and i.event.get("model_name") == model
                 and i.type in ("RetrainRequested", "ModelTrained", "ModelPromoted", "PromotionDeclined")]
        incidents.append({
            "ledger_index": drift.index, "time": drift.time, "model": model,
            "version": int(drift.event.get("version", 0)), "drift_share": drift.event.get("drift_share", 0.0),
            "drifted_features": [f.get("feature") for f in drift.event.get("features", []) if f.get("drifted")],
            "followed_by": [{"ledger_index": i.index, "type": i.type, "time": i.time} for i in later[:4]],
        })
    return incidents


def fairness_section(items: list[Item]) -> list[dict[str, Any]]:
    versions = _version_of_run(items)
    rows = []
    for trained in _of(items, "ModelTrained"):
        run = trained.event.get("run_id", "")
        primary = trained.event.get("training", {}).get("primary_metric", "")
        for gap in trained.event.get("fairness", []):
            rows.append({
                "ledger_index": trained.index, "time": trained.time, "model": trained.event.get("model_name", ""),
                "run_id": run, "version": versions.get(run), "attribute": gap.get("attribute"),
                "demographic_parity_difference": gap.get("demographic_parity_difference", 0.0),
                "equalized_odds_difference": gap.get("equalized_odds_difference", 0.0),
                "primary_metric": primary, "primary_value": trained.event.get("metrics", {}).get(primary),
            })
    return rows


def provenance_section(items: list[Item]) -> dict[str, list[dict[str, Any]]]:
    return {
        "datasets": [{"ledger_index": i.index, "time": i.time, "dataset_id": i.event.get("dataset_id"),
                      "name": i.event.get("name"), "owner": i.event.get("owner", ""),
                      "consent_basis": i.event.get("consent_basis", ""), "rows": int(i.event.get("row_count", 0)),
                      "used_by_runs": [t.event.get("run_id") for t in _of(items, "ModelTrained")
                                       if t.event.get("dataset_id") == i.event.get("dataset_id")]}
                     for i in _of(items, "DatasetArrived")],
        "rejected": [{"ledger_index": i.index, "time": i.time, "name": i.event.get("name"),
                      "owner": i.event.get("owner", ""), "content_sha256": i.event.get("content_sha256", ""),
                      "errors": i.event.get("errors", [])}
                     for i in _of(items, "DatasetRejected")],
    }
