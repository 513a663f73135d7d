"""Turning a full window into verdicts: per-column and multivariate drift, output drift, fairness."""

from dataclasses import dataclass, field, replace

import numpy as np

from . import multivariate
from .drift import FeatureResult, WindowResult, evaluate_window
from .fairness import FairnessResult, parity, positive_label
from .reference import Reference
from .stattests import NUMERIC
from .window import Window

MULTIVARIATE = "pca_reconstruction"


@dataclass
class Evaluator:
    share_threshold: float = 0.5
    method: str | None = None  # None: Evidently's choice per column
    parity_difference: float = 0.1
    fairness_alpha: float = 0.01
    min_group_size: int = 20
    _pca: dict[tuple[str, int], multivariate.Reconstruction | None] = field(default_factory=dict)

    def drift(self, reference: Reference, uri: str, window: Window) -> WindowResult:
        columns = {name: [row[i] for row in window.rows] for i, name in enumerate(reference.feature_names)}
        result = evaluate_window(
            reference.kinds, reference.columns, columns, self.share_threshold,
            reference.predictions, window.outputs, reference.prediction_kind, self.method,
        )
        found = self._multivariate(reference, uri, window)
        if found is None:
            return result
        # A broken correlation is dataset drift even when no single column moved.
        return replace(result, multivariate=found, dataset_drifted=result.dataset_drifted or found.drifted)

    def _multivariate(self, reference: Reference, uri: str, window: Window) -> FeatureResult | None:
        numeric = [i for i, n in enumerate(reference.feature_names) if reference.kinds[n] == NUMERIC]
        key = (uri, len(window.rows))
        if key not in self._pca:
            names = [reference.feature_names[i] for i in numeric]
            data = np.column_stack([reference.columns[n] for n in names]) if names else None
            self._pca[key] = multivariate.fit(data, len(window.rows)) if data is not None else None
        model = self._pca[key]
        if model is None:
            return None
        error = model.error(np.asarray(window.rows, dtype=float)[:, numeric])
        return FeatureResult(MULTIVARIATE, MULTIVARIATE, error, model.upper, model.drifted(error))

    def fairness(self, reference: Reference, window: Window) -> list[FairnessResult]:
        if reference.task == "regression":
            return []
        positive = positive_label(reference.class_labels)
        names = sorted({a for row in window.attributes for a in row})
        results = []
        for name in names:
            rows = [i for i, attrs in enumerate(window.attributes) if name in attrs]
            found = parity(
                name, [window.attributes[i][name] for i in rows], [window.outputs[i] for i in rows], positive,
                self.parity_difference, self.fairness_alpha, self.min_group_size,
            )
            if found is not None:
                results.append(found)
        return results
