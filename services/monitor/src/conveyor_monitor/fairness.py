"""Live fairness per sensitive attribute over a window of predictions, computed with fairlearn.

Selection rate = share of a group's rows predicted `positive_label`. A window is degraded for an attribute
when the gap is large (four-fifths rule broken, or the parity difference above the threshold) AND not
chance: a chi-square test of group x selected must reject independence at `alpha`. Without that second
condition two clinics of 100 patients each would break the four-fifths rule by noise every few windows,
and every false alarm here is a retrain request.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    selection_rate,
)
from scipy import stats

FOUR_FIFTHS = 0.8


@dataclass(frozen=True)
class FairnessResult:
    attribute: str
    positive_label: str
    selection_rate: dict[str, float]
    group_size: dict[str, int]
    difference: float
    ratio: float
    four_fifths_violated: bool
    difference_threshold: float
    p_value: float
    degraded: bool

    def as_json(self) -> dict[str, object]:
        return {
            "attribute": self.attribute, "positive_label": self.positive_label,
            "selection_rate": self.selection_rate, "group_size": self.group_size,
            "demographic_parity_difference": self.difference, "demographic_parity_ratio": self.ratio,
            "four_fifths_violated": self.four_fifths_violated, "difference_threshold": self.difference_threshold,
            "p_value": self.p_value, "degraded": self.degraded,
        }


def positive_label(class_labels: Sequence[str]) -> str:
    """The last class label ("1" of ["0", "1"]): the outcome whose rate is compared across groups."""
    return str(class_labels[-1]) if class_labels else "1"


def parity(
    attribute: str,
    groups: Sequence[str],
    labels: Sequence[str],
    positive: str,
    difference_threshold: float = 0.1,
    alpha: float = 0.01,
    min_group_size: int = 20,
) -> FairnessResult | None:
    """None when fewer than two groups have `min_group_size` rows: too little to judge."""
    group = np.asarray([str(g) for g in groups], dtype=object)
    selected = (np.asarray([str(v) for v in labels]) == positive).astype(int)
    names, counts = np.unique(group, return_counts=True)
    keep = np.isin(group, names[counts >= min_group_size])
    if len(names[counts >= min_group_size]) < 2:
        return None
    group, selected = group[keep], selected[keep]
    frame = MetricFrame(metrics=selection_rate, y_true=selected, y_pred=selected, sensitive_features=group)
    rates = {str(k): float(v) for k, v in frame.by_group.items()}
    difference = float(demographic_parity_difference(selected, selected, sensitive_features=group))
    ratio = float(demographic_parity_ratio(selected, selected, sensitive_features=group))
    if not np.isfinite(ratio):
        ratio = 1.0 if difference == 0 else 0.0
    table = np.array([[np.sum((group == g) & (selected == s)) for s in (0, 1)] for g in rates])
    p_value = 1.0 if (table.sum(axis=0) == 0).any() else float(stats.chi2_contingency(table).pvalue)
    violated = ratio < FOUR_FIFTHS
    return FairnessResult(
        attribute=attribute, positive_label=positive, selection_rate=rates,
        group_size={str(g): int(np.sum(group == g)) for g in rates},
        difference=difference, ratio=ratio, four_fifths_violated=violated,
        difference_threshold=difference_threshold, p_value=p_value,
        degraded=(violated or difference > difference_threshold) and p_value < alpha,
    )


def equalized_odds(groups: Sequence[str], truth: Sequence[str], labels: Sequence[str], positive: str) -> float:
    """The larger of the TPR and FPR gaps between groups (fairlearn), on labelled rows."""
    y_true = (np.asarray([str(v) for v in truth]) == positive).astype(int)
    y_pred = (np.asarray([str(v) for v in labels]) == positive).astype(int)
    return float(equalized_odds_difference(y_true, y_pred, sensitive_features=[str(g) for g in groups]))
