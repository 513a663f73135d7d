"""Live fairness per sensitive attribute over a window of predictions.

Selection rate = share of a group's rows predicted `positive_label`. A window is degraded for an attribute
when the gap is large (four-fifths rule broken, or the parity difference above the threshold) AND not
chance: a chi-square test of group x selected must reject independence at `alpha`. Without that second
condition two clinics of 100 patients each would break the four-fifths rule by noise every few windows,
and every false alarm here is a retrain request.

Demographic parity is computed with numpy: fairlearn's MetricFrame took ~30 ms a call, more than half of the
monitor's whole time per window in the profile of the Kafka path, for a group mean, a max and a min.
`test_monitor_fairness.py` holds the numbers to fairlearn's on random windows. Equalized odds (late labels,
not the hot path) is still fairlearn's.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from fairlearn.metrics import equalized_odds_difference
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
    selected = (np.asarray([str(v) for v in labels], dtype=object) == positive).astype(int)
    names, inverse, counts = np.unique(group, return_inverse=True, return_counts=True)
    judged = counts >= min_group_size
    if judged.sum() < 2:
        return None
    chosen = np.bincount(inverse, weights=selected, minlength=len(names))
    rate = chosen[judged] / counts[judged]
    names, counts, chosen = names[judged], counts[judged], chosen[judged]
    rates = {str(g): float(r) for g, r in zip(names, rate, strict=True)}
    difference = float(rate.max() - rate.min())
    ratio = float(rate.min() / rate.max()) if rate.max() > 0 else (1.0 if difference == 0 else 0.0)
    table = np.column_stack([counts - chosen, chosen])
    p_value = 1.0 if (table.sum(axis=0) == 0).any() else float(stats.chi2_contingency(table).pvalue)
    violated = ratio < FOUR_FIFTHS
    return FairnessResult(
        attribute=attribute, positive_label=positive, selection_rate=rates,
        group_size={str(g): int(n) for g, n in zip(names, counts, strict=True)},
        difference=difference, ratio=ratio, four_fifths_violated=violated,
        difference_threshold=difference_threshold, p_value=p_value,
        degraded=(violated or difference > difference_threshold) and p_value < alpha,
    )


def equalized_odds(groups: Sequence[str], truth: Sequence[str], labels: Sequence[str], positive: str) -> float:
    """The larger of the TPR and FPR gaps between groups (fairlearn), on labelled rows."""
    y_true = (np.asarray([str(v) for v in truth]) == positive).astype(int)
    y_pred = (np.asarray([str(v) for v in labels]) == positive).astype(int)
    return float(equalized_odds_difference(y_true, y_pred, sensitive_features=[str(g) for g in groups]))
