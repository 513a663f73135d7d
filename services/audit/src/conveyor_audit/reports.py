"""The per-version model card, assembled from the ledger, and the hash rule of every report.

A report's identity is the SHA-256 of its canonical JSON (keys sorted, separators "," and ":", ASCII
escapes) without the `sha256`, `signature` and `ledger_entry` fields; that hash is appended to the ledger
(ReportPublished). The monthly report is `monthly.py`.
"""

import hashlib
import json
from typing import Any

from .adapters.ledger_db import Ledger
from .coverage import declared_facts
from .report_data import items_of

UNHASHED = ("sha256", "ledger_entry", "signature")


class NotFound(LookupError):
    """Nothing in the ledger about what was asked."""


def canonical_hash(report: dict[str, Any]) -> str:
    body = {k: v for k, v in report.items() if k not in UNHASHED}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


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
        "considerations": considerations(declared_facts(items), train),
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


def considerations(facts: dict[str, dict[str, Any]], train: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The card's considerations are what the owner declared (who, when, ledger index); an undeclared one is
    empty, never placeholder text."""

    def declared(section: str) -> list[dict[str, Any]]:
        fact = facts.get(section)
        return [{"description": fact["text"], "declared_by": fact["declared_by"], "declared_at": fact["declared_at"],
                 "ledger_index": fact["ledger_index"]}] if fact else []

    mitigations = facts.get("mitigations")
    return {
        "use_cases": declared("intended_use"), "out_of_scope_uses": declared("out_of_scope_use"),
        "limitations": declared("limitations"),
        "ethical_considerations": [
            {"name": f"sensitive attribute {a}", "measured": "fairness gaps at training (quantitative analysis)",
             "mitigation_strategy": mitigations["text"] if mitigations else "",
             "declared_by": mitigations["declared_by"] if mitigations else ""}
            for a in train.get("sensitive_attributes", [])],
    }
