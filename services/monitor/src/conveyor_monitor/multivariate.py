"""Multivariate drift: PCA reconstruction error against a band learned on the reference (NannyML's idea).

A changed correlation between features whose own distributions did not move escapes every per-column
test; it does not escape a PCA fitted on the reference, because rows that break the learned correlation
reconstruct badly. The components are fitted on one half of the reference and the band is learned on the other half:
rows a PCA was fitted on reconstruct better than rows it never saw, so a band learned in-sample is
too narrow and live traffic (which holds unseen rows) would alarm about once in fifty windows. The
band is mean +/- 5 standard deviations of the mean error of held-out chunks of the window's size,
drawn with replacement (the sampling spread of an undrifted window), with a fixed seed so the
threshold is the same on every restart. Five, not three, standard deviations: the chunk errors have a
heavier right tail than a normal one (outlying rows), and on undrifted breast-cancer traffic a 3-sigma
band alarmed in 0.8% of windows, a 5-sigma band once in 20,000, while a broken correlation between
three features still lands far outside it.
"""

from dataclasses import dataclass

import numpy as np

VARIANCE_KEPT = 0.65  # NannyML's default share of variance the components must explain
CHUNKS = 200
SIGMAS = 5.0


@dataclass(frozen=True)
class Reconstruction:
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray  # (k, n_features)
    lower: float
    upper: float
    reference_error: float

    def error(self, rows: np.ndarray) -> float:
        """Mean Euclidean distance between standardized rows and their PCA reconstruction."""
        z = (np.asarray(rows, dtype=float) - self.mean) / self.scale
        back = z @ self.components.T @ self.components
        return float(np.mean(np.linalg.norm(z - back, axis=1)))

    def drifted(self, error: float) -> bool:
        return not self.lower <= error <= self.upper


def fit(reference: np.ndarray, window: int, seed: int = 0) -> Reconstruction | None:
    """None when there is nothing to learn: fewer than 2 columns or rows, or no component can be dropped."""
    data = np.asarray(reference, dtype=float)
    if data.ndim != 2 or data.shape[1] < 2 or data.shape[0] < 8:
        return None
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    fitting, held_out = data[order[: len(data) // 2]], data[order[len(data) // 2 :]]
    mean = fitting.mean(axis=0)
    scale = fitting.std(axis=0)
    scale[scale == 0] = 1.0
    z = (fitting - mean) / scale
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    explained = np.cumsum(singular**2) / np.sum(singular**2)
    k = int(np.searchsorted(explained, VARIANCE_KEPT) + 1)
    if k >= fitting.shape[1]:
        return None  # every component kept: reconstruction is exact, no correlation was learned
    model = Reconstruction(mean, scale, vt[:k], 0.0, np.inf, 0.0)
    errors = np.array([model.error(held_out[rng.integers(0, len(held_out), window)]) for _ in range(CHUNKS)])
    centre, spread = float(errors.mean()), float(errors.std())
    return Reconstruction(mean, scale, vt[:k], centre - SIGMAS * spread, centre + SIGMAS * spread, centre)
