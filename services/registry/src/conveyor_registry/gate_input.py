"""The typed input every policy expression reads: one document per promotion request, stored with its
evaluation (so a replay reads exactly what the gates read) and named by its digest.

Top-level names, as CEL sees them:
  alias, risk_tier            the alias asked for; the model's risk tier (low | medium | high)
  model                       {name, task}
  candidate                   {version, metrics, primary_metric, source, trigger, author}
  champion, has_champion      {version (0: none), metrics}: what the alias points at now
  metric                      the primary metric on the same holdout: {name, lower_is_better, candidate,
                              champion, measured, champion_measured} (0.0 where not measured)
  holdout                     {candidate, champion, same_rows, rows, description, where, note}: the metrics
                              the comparison used; same_rows when the candidate's run judged the champion on its
                              fresh rows (ModelTrained.comparison), else each version's own holdout
  fairness, fairness_largest  per sensitive attribute: {attribute, demographic_parity_difference,
                              equalized_odds_difference, measured, selection_rate: {group: rate}}
  lineage                     {run_id, dataset_id, training_dataset_ids, training_rows, code_version, estimator}
  consent                     {status (valid | flagged), checked, subjects, champion_flagged}: how many subjects
                              without valid consent for training the candidate learned from (issue 13), and
                              whether the alias's current version learned from any
  params                      the policy's own parameters
"""

import math
from typing import Any

from pydantic import BaseModel, Field

from .policy import lower_is_better
from .policy_doc import PolicyDocument, digest_of
from .tables import ModelVersion, RegisteredModel


class Group(BaseModel):
    attribute: str
    demographic_parity_difference: float
    equalized_odds_difference: float
    measured: bool = Field(description="false when a gap is NaN or infinite (e.g. a group without positives)")
    selection_rate: dict[str, float]


class Metric(BaseModel):
    name: str
    lower_is_better: bool
    candidate: float
    champion: float
    measured: bool
    champion_measured: bool


class Holdout(BaseModel):
    candidate: dict[str, float]
    champion: dict[str, float]
    same_rows: bool
    rows: int
    description: str
    where: str = Field(description='" on <description>" when the rows are the same, else ""; for messages')
    note: str


class GateInput(BaseModel):
    alias: str
    risk_tier: str
    model: dict[str, str]
    candidate: dict[str, Any]
    champion: dict[str, Any]
    has_champion: bool
    metric: Metric
    holdout: Holdout
    fairness: list[Group]
    fairness_largest: float
    lineage: dict[str, Any]
    consent: dict[str, Any]
    params: dict[str, Any]


def _finite(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else 0.0


def _holdout(candidate: ModelVersion, champion: ModelVersion | None) -> Holdout:
    fresh = candidate.comparison
    if champion is not None and fresh and int(fresh.get("champion_version", 0)) == champion.version:
        description = fresh.get("description") or "the fresh holdout"
        return Holdout(candidate=fresh.get("challenger_metrics", {}), champion=fresh.get("champion_metrics", {}),
                       same_rows=True, rows=int(fresh.get("rows", 0)), description=description,
                       where=f" on {description}", note="")
    note = ""
    if champion is not None and fresh:
        note = (f"the fresh comparison judged v{fresh.get('champion_version')}, but the champion is "
                f"v{champion.version}: compared the holdout numbers instead")
    elif champion is not None:
        note = "no fresh comparison: each version's own holdout numbers were compared"
    return Holdout(candidate=dict(candidate.metrics), champion=dict(champion.metrics) if champion else {},
                   same_rows=False, rows=0, description="each version's own holdout", where="", note=note)


def consent_of(flagged: int, champion_flagged: bool) -> dict[str, Any]:
    return {"status": "flagged" if flagged else "valid", "checked": True, "subjects": flagged,
            "champion_flagged": champion_flagged}


def build(model: RegisteredModel, candidate: ModelVersion, champion: ModelVersion | None, alias: str, tier: str,
          policy: PolicyDocument, consent: dict[str, Any] | None = None) -> dict[str, Any]:
    """The input as plain JSON (what is stored, hashed and handed to CEL)."""
    holdout = _holdout(candidate, champion)
    name = candidate.primary_metric
    groups = [
        Group(attribute=g["attribute"],
              demographic_parity_difference=_finite(g["demographic_parity_difference"]),
              equalized_odds_difference=_finite(g["equalized_odds_difference"]),
              measured=all(math.isfinite(float(g[k])) for k in ("demographic_parity_difference",
                                                                 "equalized_odds_difference")),
              selection_rate={k: _finite(v) for k, v in g.get("selection_rate", {}).items()})
        for g in candidate.fairness
    ]
    largest = max((max(abs(g.demographic_parity_difference), abs(g.equalized_odds_difference)) for g in groups),
                  default=0.0)
    data = GateInput(
        alias=alias, risk_tier=tier, model={"name": model.name, "task": model.task},
        candidate={"version": candidate.version, "metrics": dict(candidate.metrics), "primary_metric": name,
                   "source": candidate.source, "trigger": candidate.trigger, "author": candidate.author},
        champion={"version": champion.version if champion else 0,
                  "metrics": dict(champion.metrics) if champion else {}},
        has_champion=champion is not None,
        metric=Metric(name=name, lower_is_better=lower_is_better(name),
                      candidate=_finite(holdout.candidate.get(name, 0.0)),
                      champion=_finite(holdout.champion.get(name, 0.0)),
                      measured=name in holdout.candidate and math.isfinite(float(holdout.candidate[name])),
                      champion_measured=name in holdout.champion and math.isfinite(float(holdout.champion[name]))),
        holdout=holdout, fairness=groups, fairness_largest=largest,
        lineage={"run_id": candidate.run_id, "dataset_id": candidate.dataset_id,
                 "training_dataset_ids": list(candidate.training_dataset_ids),
                 "training_rows": candidate.training_rows, "code_version": candidate.code_version,
                 "estimator": candidate.training.get("estimator", "")},
        consent=consent or consent_of(0, False),
        params=dict(policy.params),
    )
    return data.model_dump(mode="json")


def input_digest(data: dict[str, Any]) -> str:
    return digest_of(data)
