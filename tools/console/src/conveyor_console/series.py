"""The monitor's series, shaped for a chart: one value per window and version, and the line that matters.

    drift        share of drifted features per window (threshold: the monitor's share_threshold)
    fairness     the largest gap between groups per window (demographic parity difference), per attribute
    performance  the window's primary metric on late-labelled rows (the first the monitor scored)
"""

from typing import Any

TITLES = {"drift": "Drift: share of drifted features", "fairness": "Fairness: gap between groups",
          "performance": "Performance on labelled production rows"}


def chart(kind: str, points: list[dict[str, Any]], threshold: float | None = None) -> dict[str, Any]:
    shaped: list[dict[str, Any]] = []
    label = {"drift": "drift share", "fairness": "parity difference", "performance": "metric"}[kind]
    for point in points:
        value = _value(kind, point)
        if value is not None:
            shaped.append({"version": point.get("version"), "value": value, "at": point.get("at")})
    if kind == "performance" and points:
        metric = next(iter(points[-1].get("metrics") or {}), "metric")
        label = metric
    return {"kind": kind, "title": TITLES[kind], "label": label, "threshold": threshold, "points": shaped}


def _value(kind: str, point: dict[str, Any]) -> float | None:
    if kind == "drift":
        return point.get("drift_share")
    if kind == "fairness":
        return point.get("difference")
    metrics = point.get("metrics") or {}
    return next(iter(metrics.values()), None)


def latest(points: list[dict[str, Any]], kind: str) -> float | None:
    values = [v for v in (_value(kind, p) for p in points) if v is not None]
    return values[-1] if values else None
