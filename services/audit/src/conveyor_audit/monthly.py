"""The monthly compliance report, assembled from the ledger: summary first, then each model, consent,
provenance and lineage, role bindings, the coverage tables, and the evidence that lets anyone holding only
the ledger's public key check it offline (`report_verify.py`, `conveyor report verify FILE`).

Consent records are the bulk of a busy month (every upload gives one per subject): they are counted from
their protobuf bytes, not listed, so the report stays readable and its generation linear and cheap.
"""

from binascii import a2b_base64
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson

from conveyor.events.v1 import events_pb2 as ev

from . import report_models as per_model
from .adapters.ledger_db import Ledger
from .coverage import coverage
from .note import Signer
from .report_data import SHORT, Item, items_of, month_bounds, provenance_section
from .report_evidence import end_checkpoint, evidence, sign_report

CONSENT = SHORT + "ConsentChanged"
ROLE_BINDINGS_NOTE = ("No Conveyor route manages role bindings (docs/security.md): they live in the identity "
                      "provider, which records their changes; the ledger holds none.")
STATE_NAMES = {ev.CONSENT_STATE_GIVEN: "given", ev.CONSENT_STATE_WITHDRAWN: "withdrawn",
               ev.CONSENT_STATE_EXPIRED: "expired", ev.CONSENT_STATE_ERASED: "erased"}


class MonthNotEnded(Exception):  # noqa: N818 - names what the client asked for
    """A final report for a month that has not ended yet."""


def consent_counts(leaves: list[bytes]) -> dict[str, int]:
    """Records by state. orjson and binascii, not json and base64: a busy month holds a million of them."""
    by_state = Counter(ev.ConsentChanged.FromString(a2b_base64(orjson.loads(leaf)["data_base64"])).state
                       for leaf in leaves)
    return {name: by_state.get(state, 0) for state, name in STATE_NAMES.items()}


def consent_section(items: list[Item], counts: dict[str, int]) -> dict[str, Any]:
    erasures = [{"ledger_index": i.index, "time": i.time, "erasure_id": i.event.get("erasure_id", ""),
                 "requested_by": i.event.get("requested_by", ""), "approved_by": i.event.get("approved_by", ""),
                 "dataset_versions_rewritten": len(i.event.get("replaced_dataset_ids", [])),
                 "rows_removed": int(i.event.get("rows_removed", 0)), "receipt_sha256": i.event.get("receipt_sha256")}
                for i in items if i.type == "ErasureCompleted"]
    flagged = [i for i in items if i.type == "TrainingRunsFlagged"]
    retrains = [{"ledger_index": i.index, "time": i.time, "model": i.event.get("model_name", ""),
                 "run_id": i.event.get("run_id", ""), "excluded_rows": int(i.event.get("consent", {})
                                                                            .get("excluded_rows", 0))}
                for i in items if i.type == "ModelTrained" and i.event.get("trigger") == "consent_withdrawn"]
    return {"records": counts, "erasures": erasures, "subjects_whose_withdrawal_flagged_runs": len(flagged),
            "retrains": retrains}


def lineage_completeness(items: list[Item], known_datasets: set[str]) -> dict[str, Any]:
    trainings = [i for i in items if i.type == "ModelTrained"]
    registered = {i.event.get("run_id") for i in items if i.type == "ModelRegistered"}
    rows = [{"ledger_index": t.index, "model": t.event.get("model_name", ""), "run_id": t.event.get("run_id", ""),
             "dataset_in_ledger": t.event.get("dataset_id", "") in known_datasets,
             "registered": t.event.get("run_id") in registered,
             "consent_snapshot": bool(t.event.get("consent"))} for t in trainings]
    complete = sum(r["dataset_in_ledger"] and r["registered"] and r["consent_snapshot"] for r in rows)
    return {"trainings": rows, "complete": complete, "total": len(rows),
            "share": round(complete / len(rows), 4) if rows else None}


def monthly_report(ledger: Ledger, month: str, signer: Signer, origin: str, *, draft: bool = False,
                   now: datetime | None = None, fairness_threshold: float | None = None) -> dict[str, Any]:
    start, end = month_bounds(month)  # MonthInvalid names the format
    now = now or datetime.now(UTC)
    if not draft and now.isoformat() < end + "+00:00":
        raise MonthNotEnded(f"month: {month} has not ended (it ends {end}Z); ask for a draft (draft=true) to "
                            "see it so far, or wait: the final report is generated on the 1st")
    entries = [e for e in ledger.between_types(start, end, (CONSENT,), include=False)
               if e.type != SHORT + "ReportPublished"]
    consent_leaves = ledger.leaves_between(start, end, CONSENT)
    items = items_of(entries)
    history = [e for e in ledger.find(None, SHORT + "ModelPromoted", 10_000_000, 0)[1] if e.time < start]
    before = items_of(history)
    facts_entries = [e for e in ledger.find(None, SHORT + "FactsDeclared", 1_000_000, 0)[1] if e.time < end]
    facts = items_of(facts_entries)
    dataset_entries = [e for e in ledger.find(None, SHORT + "DatasetArrived", 10_000_000, 0)[1] if e.time < end]
    datasets = {i.event.get("dataset_id", ""): i for i in items_of(dataset_entries)}
    hashes = {e.idx: e.leaf_hash for group in (entries, history, facts_entries, dataset_entries) for e in group}

    grouped = per_model.by_model(items)
    earlier = per_model.by_model(before)
    declared = per_model.by_model(facts)
    models = []
    for name in sorted(set(grouped) | {m for m, its in earlier.items() if its}):
        mine = grouped.get(name, [])
        section = per_model.model_section(name, mine, earlier.get(name, [])[-1:], end + "Z", fairness_threshold)
        trained_on = {d for i in mine if i.type == "ModelTrained" for d in
                      (i.event.get("training_dataset_ids") or [i.event.get("dataset_id", "")])}
        used = [datasets[d] for d in sorted(trained_on) if d in datasets]
        section["coverage"] = coverage([*declared.get(name, []), *mine], used)
        section["declared_facts"] = {i.event.get("section"): {"text": i.event.get("text"), "ledger_index": i.index,
                                                             "declared_at": i.time, "declared_by": per_model.who(i)}
                                     for i in declared.get(name, [])}
        models.append(section)

    champions = {m["model"]: m["served"][-1]["version"] for m in models if m["served"]}
    debt = [{"model": m["model"], "version": f["version"], "ledger_index": f["ledger_index"]}
            for m in models for f in m["consent"]["flagged_versions"]
            if champions.get(m["model"]) == f["version"]]
    counts = consent_counts(consent_leaves)
    summary = {
        "models_in_production": [{"model": m, "version": v} for m, v in sorted(champions.items())],
        "changes": sum(len(m["promotions"]) + len(m["rollbacks"]) + len(m["traffic_splits"]) for m in models),
        "incidents": sum(len(m["incidents"]) for m in models),
        "open_consent_debt": debt,
        "ledger_entries": len(entries) + len(consent_leaves),
    }
    report: dict[str, Any] = {
        "kind": "monthly", "scope": month, "month": month, "draft": draft,
        "period": {"start": start + "Z", "end": end + "Z"},
        "summary": summary, "models": models,
        "consent": consent_section(items, counts),
        "data_provenance": provenance_section(items),
        "lineage": lineage_completeness(items, set(datasets)),
        "role_bindings": {"changes": [], "status": "missing", "note": ROLE_BINDINGS_NOTE},
        "public_key": signer.verifier.vkey(),
    }
    listed = {i: hashes[i] for i in _referenced(report)}  # every entry a row names, and only those
    report["evidence"] = evidence(ledger, listed, next(iter(ledger.checkpoints(issued_before=start)), None),
                                  end_checkpoint(ledger, end, max(listed, default=-1) + 1))
    from .reports import canonical_hash  # the one hash rule for every report kind

    report["sha256"] = canonical_hash(report)
    report["signature"] = sign_report(report, signer, origin)
    return report


def _referenced(value: Any) -> set[int]:
    """Every ledger index a section names (ledger_index, ledger_indexes, followed_by's)."""
    found: set[int] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "ledger_index" and isinstance(inner, int):
                found.add(inner)
            elif key == "ledger_indexes" and isinstance(inner, list):
                found.update(i for i in inner if isinstance(i, int))
            else:
                found |= _referenced(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _referenced(inner)
    return found
