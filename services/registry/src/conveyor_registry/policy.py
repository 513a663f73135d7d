"""The promotion policy: a pure function from (candidate, champion, limits) to a verdict with reasons.

Rules, in order:
  1. no champion yet → promote (a fairness gap over the limit is still named in the reasons);
  2. otherwise promote only if the primary metric is no worse than the champion's beyond the tolerance
     (higher-is-better: cand >= champ - tol; error metrics such as rmse: cand <= champ + tol)
     AND every fairness gap (demographic parity, equalized odds; absolute) is <= the limit.
     The metrics compared are, when the candidate carries a fresh comparison of the champion (a retrain on
     production feedback judged both on the same newest labelled rows), those two numbers; otherwise each
     version's own holdout number. A comparison against another version than the champion is not used.
Reasons are sentences with the numbers in them: they end up in events, the audit log and the UI.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LOWER_IS_BETTER = frozenset({"rmse", "mse", "mae", "mape", "log_loss", "brier_score", "max_error"})
GAP_NAMES = ("demographic_parity_difference", "equalized_odds_difference")
_EPSILON = 1e-12  # a metric exactly on the tolerance boundary passes despite float rounding


@dataclass(frozen=True)
class Gap:
    attribute: str
    demographic_parity_difference: float
    equalized_odds_difference: float


@dataclass(frozen=True)
class Comparison:
    """Champion and candidate measured on the same fresh rows by the candidate's run."""

    champion_version: int
    champion: Mapping[str, float]
    candidate: Mapping[str, float]
    description: str


@dataclass(frozen=True)
class Contender:
    version: int
    metrics: Mapping[str, float]
    fairness: Sequence[Gap] = ()
    comparison: Comparison | None = None


@dataclass(frozen=True)
class Limits:
    metric_tolerance: float = 0.01
    max_fairness_gap: float = 0.2


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reasons: tuple[str, ...]


def lower_is_better(metric: str) -> bool:
    return metric.lower() in LOWER_IS_BETTER


def num(value: float) -> str:
    """Three decimals for ordinary values, significant digits for tiny ones (0.000 would hide them)."""
    if value == 0 or abs(value) >= 0.001:
        return f"{value:.3f}"
    return f"{value:.3g}"


def fairness_findings(gaps: Sequence[Gap], limit: float) -> tuple[list[str], list[str]]:
    """(violations, passes) as sentences."""
    violations = []
    largest = 0.0
    for gap in gaps:
        for name in GAP_NAMES:
            value = abs(getattr(gap, name))
            if not math.isfinite(value):
                # e.g. a group without positives in the holdout: an unmeasured gap is not a small one
                violations.append(f"{name} for {gap.attribute} could not be measured ({value}); review manually")
                continue
            largest = max(largest, value)
            if value > limit + _EPSILON:
                violations.append(f"{name} for {gap.attribute} {num(value)} > max {limit:g}")
    if violations:
        return violations, []
    if not gaps:
        return [], ["no fairness gaps reported"]
    return [], [f"fairness gaps within max {limit:g} (largest {num(largest)})"]


def metric_finding(metric: str, candidate: Contender, champion: Contender, tolerance: float) -> list[tuple[bool, str]]:
    """The metric rule as (passed, reason) findings: one, or a note and one when a comparison is set aside."""
    comparison = candidate.comparison
    if comparison is not None and comparison.champion_version == champion.version:
        return [_compare(metric, comparison.candidate, comparison.champion, champion.version, tolerance,
                         f" on {comparison.description}", " on the fresh holdout")]
    findings = []
    if comparison is not None:
        findings.append((True, f"the fresh comparison judged v{comparison.champion_version}, but the champion is "
                               f"v{champion.version}: compared the holdout numbers instead"))
    findings.append(_compare(metric, candidate.metrics, champion.metrics, champion.version, tolerance, "", ""))
    return findings


def _compare(metric: str, candidate: Mapping[str, float], champion: Mapping[str, float], champion_version: int,
             tolerance: float, where: str, missing_where: str) -> tuple[bool, str]:
    if metric not in candidate:
        return False, f"this version has no {metric}{missing_where}; promote manually"
    if metric not in champion:
        return False, f"champion v{champion_version} has no {metric}{missing_where} to compare with; promote manually"
    cand, champ = candidate[metric], champion[metric]
    if lower_is_better(metric):
        ok = cand <= champ + tolerance + _EPSILON
        sign, op = ("<=" if ok else ">"), "+"
    else:
        ok = cand >= champ - tolerance - _EPSILON
        sign, op = (">=" if ok else "<"), "-"
    return ok, f"{metric} {num(cand)} {sign} champion v{champion_version} {num(champ)} {op} {tolerance:g}{where}"


def evaluate(metric: str, candidate: Contender, champion: Contender | None, limits: Limits) -> Verdict:
    """Decide whether `candidate` replaces `champion` on `metric` (which the candidate must report)."""
    violations, passes = fairness_findings(candidate.fairness, limits.max_fairness_gap)
    if champion is None:
        first = f"no champion yet: v{candidate.version} becomes champion with {metric} {num(candidate.metrics[metric])}"
        warnings = [f"warning: {v}" for v in violations]
        return Verdict(True, (first, *warnings, *passes))
    findings = metric_finding(metric, candidate, champion, limits.metric_tolerance)
    metric_ok = all(ok for ok, _ in findings)
    return Verdict(metric_ok and not violations, (*(reason for _, reason in findings), *violations, *passes))
