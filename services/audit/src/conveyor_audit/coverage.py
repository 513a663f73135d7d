"""Coverage stated, never faked: each point of the EU AI Act's Annex IV (technical documentation) and each
model-card section (Mitchell et al., 2019) is auto-evidenced (ledger entries show it), declared by a person
(a FactsDeclared entry: who, when) or missing. Nothing here writes placeholder text.
"""

from typing import Any

from .report_data import Item

# Facts a person declares per model (POST /models/{model}/facts); no event can evidence them.
SECTIONS = ("intended_use", "out_of_scope_use", "limitations", "mitigations", "ethical_considerations",
            "human_oversight", "risk_management", "standards", "declaration_of_conformity")

Rule = tuple[tuple[str, ...], str | None]  # (event types that evidence it, the declared section that may instead)
ANNEX_IV: tuple[tuple[str, str, Rule], ...] = (
    ("1(a)", "Intended purpose", ((), "intended_use")),
    ("1(b)-(h)", "Versions, how the system is put into service and interacts", (("ModelRegistered", "ModelDeployed"),
                                                                                 None)),
    ("2(a)-(b)", "Development methods and design choices (what it optimises)", (("ModelTrained",), None)),
    ("2(d)", "Data requirements and provenance of the training data", (("DatasetArrived",), None)),
    ("2(e)", "Human oversight measures", (("ModelPromoted:person",), "human_oversight")),
    ("2(g)", "Validation and testing: metrics, parity, fairness", (("ModelTrained",), None)),
    ("3", "Capabilities and limitations, foreseeable unintended outcomes", ((), "limitations")),
    ("4", "Appropriateness of the performance metrics", (("ModelPromoted", "PromotionDeclined"), None)),
    ("5", "Risk management system (Art. 9)", ((), "risk_management")),
    ("6", "Relevant changes through the lifecycle", (("ModelPromoted", "TrafficSplitSet"), None)),
    ("7", "Harmonised standards applied", ((), "standards")),
    ("8", "EU declaration of conformity", ((), "declaration_of_conformity")),
    ("9", "Post-market monitoring (Art. 72)", (("DriftDetected", "FairnessDegraded", "PerformanceDegraded",
                                                "RetrainDeferred"), None)),
)
MODEL_CARD: tuple[tuple[str, str, Rule], ...] = (
    ("1", "Model details", (("ModelRegistered", "ModelTrained"), None)),
    ("2", "Intended use", ((), "intended_use")),
    ("3", "Factors", (("ModelTrained:sensitive",), None)),
    ("4", "Metrics", (("ModelTrained",), None)),
    ("5", "Evaluation data", (("ModelTrained",), None)),
    ("6", "Training data", (("DatasetArrived",), None)),
    ("7", "Quantitative analyses", (("ModelTrained:fairness",), None)),
    ("8", "Ethical considerations", ((), "ethical_considerations")),
    ("9", "Caveats and recommendations", ((), "limitations")),
)


def _matches(item: Item, wanted: str) -> bool:
    kind, _, detail = wanted.partition(":")
    if item.type != kind:
        return False
    if detail == "person":
        return item.event.get("approved_by", "policy") != "policy"
    if detail == "sensitive":
        return bool(item.event.get("sensitive_attributes"))
    if detail == "fairness":
        return bool(item.event.get("fairness"))
    return True


def declared_facts(items: list[Item]) -> dict[str, dict[str, Any]]:
    """section -> the newest declaration (text, who, when, ledger index)."""
    facts: dict[str, dict[str, Any]] = {}
    for i in items:
        if i.type == "FactsDeclared":
            principal = i.event.get("principal") or {}
            facts[i.event.get("section", "")] = {"text": i.event.get("text", ""), "declared_by":
                                                 principal.get("subject", "not recorded"), "declared_at": i.time,
                                                 "ledger_index": i.index}
    return facts


def coverage(model_items: list[Item], datasets: list[Item]) -> dict[str, list[dict[str, Any]]]:
    """`model_items`: the model's entries up to the period's end; `datasets`: the DatasetArrived it trained on."""
    facts = declared_facts(model_items)
    pool = [*model_items, *datasets]

    def row(point: str, title: str, rule: Rule) -> dict[str, Any]:
        types, section = rule
        evidence = [i.index for i in pool if any(_matches(i, t) for t in types)][-3:]
        if evidence:
            return {"point": point, "title": title, "status": "auto-evidenced", "ledger_indexes": evidence}
        if section and section in facts:
            fact = facts[section]
            return {"point": point, "title": title, "status": "declared", "declared_by": fact["declared_by"],
                    "declared_at": fact["declared_at"], "text": fact["text"], "ledger_indexes": [fact["ledger_index"]]}
        need = f"declare '{section}' (POST /models/{{model}}/facts)" if section else "no entry evidences it"
        return {"point": point, "title": title, "status": "missing", "to_fix": need, "ledger_indexes": []}

    return {"eu_ai_act_annex_iv": [row(*p) for p in ANNEX_IV], "model_card": [row(*p) for p in MODEL_CARD]}
