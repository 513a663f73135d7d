"""The monthly compliance report and the per-version model card, assembled from the ledger.

A report's identity is the SHA-256 of its canonical JSON (keys sorted, separators "," and ":", ASCII
escapes) without the `sha256` and `ledger_entry` fields; that hash is appended to the ledger
(ReportPublished). Reports are deterministic: asking again for a closed month gives the same hash.
"""

import hashlib
import json
from typing import Any

from .adapters.ledger_db import Ledger
from .adapters.rows import StoredCheckpoint
from .report_data import (
    NO_REVOCATIONS,
    drift_section,
    fairness_section,
    items_of,
    models_section,
    month_bounds,
    provenance_section,
)

UNHASHED = ("sha256", "ledger_entry")


class NotFound(LookupError):
    """Nothing in the ledger about what was asked."""


def canonical_hash(report: dict[str, Any]) -> str:
    body = {k: v for k, v in report.items() if k not in UNHASHED}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _checkpoint_json(stored: StoredCheckpoint | None) -> dict[str, Any] | None:
    if stored is None:
        return None
    return {"size": stored.size, "root": stored.root.hex(), "note": stored.note, "issued_at": stored.issued_at}


def monthly_report(ledger: Ledger, month: str) -> dict[str, Any]:
    start, end = month_bounds(month)  # MonthInvalid names the format
    items = [i for i in items_of(ledger.between(start, end)) if i.type != "ReportPublished"]
    opening = next(iter(ledger.checkpoints(issued_before=start)), None)
    closing = next(iter(ledger.checkpoints(issued_before=end)), None)
    proof = None
    if closing is not None:
        first = opening.size if opening is not None else 0
        proof = {"first": first, "second": closing.size,
                 "hashes": [h.hex() for h in ledger.consistency(first, closing.size)]}
    models = models_section(items)
    report: dict[str, Any] = {
        "kind": "monthly", "month": month, "period": {"start": start + "Z", "end": end + "Z"},
        "empty": not items,
        "summary": (f"No lifecycle events were recorded in {month}." if not items else
                    f"{len(items)} lifecycle events in {month}: {len(models['trained'])} trainings, "
                    f"{len(models['promoted'])} promotions, {len(models['rolled_back'])} rollbacks, "
                    f"{len(models['deployed'])} deployments, {len(drift_section(items))} drift incidents."),
        "models": models, "drift_incidents": drift_section(items), "fairness": fairness_section(items),
        "data_provenance": provenance_section(items),
        "consent_revocations": {"events": [], "note": NO_REVOCATIONS},
        "checkpoints": {"start": _checkpoint_json(opening), "end": _checkpoint_json(closing),
                        "consistency_proof": proof,
                        "note": "start = last checkpoint issued before the month, end = last issued before its end"},
    }
    report["sha256"] = canonical_hash(report)
    return report


def model_card(ledger: Ledger, model: str, version: int) -> dict[str, Any]:
    """A card in the shape of the public model-card schema (Model Card Toolkit), plus ledger lineage."""
    items = items_of(ledger.find(model, None, 1_000_000, 0)[1])
    if not items:
        raise NotFound(f"the ledger holds no events about model {model!r}")
    registered = [i for i in items if i.type == "ModelRegistered" and int(i.event.get("version", 0)) == version]
    if not registered:
        known = sorted({int(i.event.get("version", 0)) for i in items if i.type == "ModelRegistered"})
        raise NotFound(f"model {model!r} has no registered version {version}; versions in the ledger: {known}")
    reg = registered[0]
    run = reg.event.get("run_id", "")
    trained = next((i for i in items if i.type == "ModelTrained" and i.event.get("run_id") == run), None)
    train = trained.event if trained else {}
    dataset_id = reg.event.get("dataset_id", "")
    dataset = next((i.event for i in items_of(ledger.find(dataset_id, "conveyor.events.v1.DatasetArrived", 1, 0)[1])),
                   {}) if dataset_id else {}
    about = [i for i in items if int(i.event.get("version", -1)) == version]
    card: dict[str, Any] = {
        "schema_version": "0.0.2",
        "model_details": {
            "name": model, "version": {"name": str(version), "date": reg.time},
            "overview": f"{train.get('training', {}).get('estimator', 'unknown estimator')} for "
                        f"{train.get('task', 'an unrecorded task')}, trained by run {run}.",
            "owners": [{"name": dataset.get("owner", "not recorded")}],
        },
        "model_parameters": {
            "model_architecture": train.get("training", {}).get("estimator", ""),
            "data": [{"name": dataset.get("name", dataset_id), "link": dataset.get("uri", ""),
                      "sensitive": {"sensitive_data": dataset.get("sensitive_attributes", [])},
                      "description": f"dataset {dataset_id}; consent basis: "
                                     f"{dataset.get('consent_basis') or 'not recorded'}"}],
            "input_format": ", ".join(train.get("feature_names", [])),
        },
        "quantitative_analysis": {
            "performance_metrics": [{"type": k, "value": v} for k, v in sorted(reg.event.get("metrics", {}).items())],
            "fairness": train.get("fairness", []),
        },
        "considerations": {
            "use_cases": [{"description": "Intended use is not recorded in the ledger's v1 events; "
                                          "the owner must state it."}],
            "limitations": [], "ethical_considerations": [
                {"name": f"sensitive attribute {a}", "mitigation_strategy": "fairness gaps measured at training"}
                for a in train.get("sensitive_attributes", [])],
        },
        "lineage": {"dataset_id": dataset_id, "run_id": run, "code_version": train.get("code_version", ""),
                    "training_ledger_index": trained.index if trained else None, "registered_ledger_index": reg.index},
        "deployment_history": [{"ledger_index": i.index, "time": i.time, "type": i.type,
                                "principal": i.event.get("principal"),
                                "reasons": i.event.get("reasons", []), "approved_by": i.event.get("approved_by", "")}
                               for i in about if i.type in ("ModelPromoted", "PromotionDeclined", "ModelDeployed",
                                                            "DriftDetected", "RetrainRequested")],
    }
    card["sha256"] = canonical_hash(card)
    return card
