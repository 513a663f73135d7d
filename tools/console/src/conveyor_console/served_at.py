""""What served at time T", from the ledger alone: per model, the last deployment (ModelDeployed) recorded at or
before T, with the promotion that caused it. Times compare as RFC 3339 in UTC."""

from datetime import UTC, datetime
from typing import Any

DEPLOYED = "conveyor.events.v1.ModelDeployed"


def parse_time(text: str) -> datetime:
    """A datetime-local value (the browser's, no zone: read as UTC) or an RFC 3339 timestamp."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"time {text!r} is not a date and time (YYYY-MM-DDTHH:MM, UTC)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def served_at(entries: list[dict[str, Any]], moment: datetime) -> list[dict[str, Any]]:
    serving: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.get("type") != DEPLOYED:
            continue
        at = parse_time(entry["time"])
        if at <= moment:
            event = entry.get("event") or {}
            model = event.get("model_name", entry.get("subject"))
            serving[model] = {"model": model, "version": int(event.get("version", 0)), "since": entry["time"],
                              "instance": event.get("instance", ""), "ledger_index": entry["index"]}
    return sorted(serving.values(), key=lambda s: s["model"])
