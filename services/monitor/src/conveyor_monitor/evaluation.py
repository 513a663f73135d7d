"""Turning a full window into verdicts: per-column and multivariate drift, output drift, fairness."""

from dataclasses import dataclass, field, replace

import numpy as np

from . import multivariate
from .drift import FeatureResult, WindowResult, evaluate_window
from .fairness import FairnessResult, parity, positive_label
from .reference import Reference
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
        result = evaluate_window(
            reference.prepared, window.inputs, self.share_threshold,
            reference.predictions, window.outputs, reference.prediction_kind, self.method,
        )
        found = self._multivariate(reference, uri, window)
        if found is None:
            return result
        # A broken correlation is dataset drift even when no single column moved.
        return replace(result, multivariate=found, dataset_drifted=result.dataset_drifted or found.drifted)

    def _multivariate(self, reference: Reference, uri: str, window: Window) -> FeatureResult | None:
        names = reference.numeric_names()
        key = (uri, window.rows)
        if key not in self._pca:
            self._pca[key] = multivariate.fit(_complete_rows(reference.columns, names), window.rows) if names else None
        model = self._pca[key]
        if model is None:
            return None
        rows = _complete_rows(window.inputs, names)
        if len(rows) < 2:
            return None  # nearly every row has a gap: nothing to reconstruct
        error = model.error(rows)
        return FeatureResult(MULTIVARIATE, MULTIVARIATE, error, model.upper, model.drifted(error))

    def fairness(self, reference: Reference, window: Window) -> list[FairnessResult]:
        if reference.task == "regression":
            return []
        positive = positive_label(reference.class_labels)
        outputs = np.asarray([str(v) for v in window.outputs], dtype=object)
        results = []
        for name in sorted(window.attributes):
            values = np.asarray(window.attributes[name], dtype=object)
            sent = values != ""
            found = parity(name, values[sent], outputs[sent], positive, self.parity_difference,
                           self.fairness_alpha, self.min_group_size)
            if found is not None:
                results.append(found)
        return results


def _complete_rows(columns: dict, names: list[str]) -> np.ndarray:
    """The numeric columns as a matrix, rows with a gap left out (PCA reconstructs whole rows only)."""
    matrix = np.column_stack([np.asarray([np.nan if v is None else v for v in columns[n]], dtype=float)
                              for n in names])
    return matrix[~np.isnan(matrix).any(axis=1)]
