"""Per-column drift methods, named and chosen the way Evidently 0.7 names and chooses them.

Each method maps a reference and a current sample to a score; p-value methods drift when the score is
below the threshold, distance methods when it reaches it. Evidently's rule for the default: a reference of
at most 1,000 rows gets a test (KS for numeric columns with more than 5 distinct values, chi-square for
categorical ones, a Z-test for two categories), a larger one gets a distance (normed Wasserstein for
numeric, Jensen-Shannon for categorical). Matching it matters: users compare our numbers with theirs.

Two PSI variants are offered under names that say which one they are, because they differ a lot on the
same data: `psi_reference_deciles` (the classic credit-risk PSI over the reference's deciles) and
`psi_evidently_sturges` (Evidently's: Sturges bins over both samples together).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.spatial import distance

NUMERIC = "numeric"
CATEGORICAL = "categorical"
BOOLEAN = "boolean"  # a column kind of the reference; its drift is judged as a categorical column's
KINDS = (NUMERIC, CATEGORICAL)
SMALL_REFERENCE = 1000  # Evidently's cut between tests (p-values) and distances
FEW_VALUES = 5  # numeric columns with at most this many distinct values are treated as categories
DECILE_EPSILON = 1e-4  # keeps empty decile bins from turning PSI into infinity (the usual choice)


@dataclass(frozen=True)
class Method:
    name: str
    kinds: tuple[str, ...]
    default_threshold: float
    p_value: bool  # True: drifted when score < threshold; False: drifted when score >= threshold
    score: Callable[[np.ndarray, np.ndarray, str], float]

    def drifted(self, score: float, threshold: float) -> bool:
        return score < threshold if self.p_value else score >= threshold


def drift_kind(kind: str) -> str:
    """How a column of the reference's kind is tested: booleans are two categories."""
    return NUMERIC if kind == NUMERIC else CATEGORICAL


def category_of(value: object) -> str:
    """One spelling per category: 1, 1.0 and "1" are the same integer-coded category, True and 1.0 the same
    boolean (the reference holds JSON booleans, the prediction log BOOL inputs as 0.0/1.0)."""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def missing(value: object) -> bool:
    """A gap: null in the reference, NaN among logged numbers, "" among logged strings (serving's marker)."""
    return value is None or value == "" or (isinstance(value, float | np.floating) and value != value)


def as_sample(values: Sequence[object], kind: str) -> np.ndarray:
    """The column's values without its gaps, as Evidently tests them (it drops missing values first)."""
    if kind == CATEGORICAL:
        return np.asarray([category_of(v) for v in values if not missing(v)], dtype=object)
    sample = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    return sample[~np.isnan(sample)]


def _shares(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of each value seen in either sample, in one shared order."""
    keys, inverse = np.unique(np.concatenate([reference, current]).astype(str), return_inverse=True)
    ref_counts = np.bincount(inverse[: len(reference)], minlength=len(keys))
    cur_counts = np.bincount(inverse[len(reference) :], minlength=len(keys))
    return ref_counts / len(reference), cur_counts / len(current)


def _binned(reference: np.ndarray, current: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's binning: Sturges bins over both samples for numeric columns with > 20 reference values."""
    if kind == NUMERIC and len(np.unique(reference)) > 20:
        edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
        return (np.histogram(reference, edges)[0] / len(reference), np.histogram(current, edges)[0] / len(current))
    return _shares(reference, current)


def _fill_zeros(shares: np.ndarray) -> np.ndarray:
    smallest = shares[shares > 0].min()
    return np.where(shares == 0, smallest / 1e6 if smallest <= 1e-4 else 1e-4, shares)


def ks(reference: np.ndarray, current: np.ndarray, kind: str) -> float:
    return float(stats.ks_2samp(reference, current).pvalue)


def chisquare(reference: np.ndarray, current: np.ndarray, kind: str) -> float:
    """Goodness of fit of the current counts to the reference shares (Evidently's form, not a contingency)."""
    ref_share, cur_share = _shares(reference, current)
    if len(ref_share) < 2:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):  # a category unseen in the reference: p = 0
        return float(stats.chisquare(cur_share * len(current), ref_share * len(current)).pvalue)


def z_test(reference: np.ndarray, current: np.ndarray, kind: str) -> float:
    """Two-proportion Z-test on the share of the first (sorted) category."""
    keys = sorted(set(reference.astype(str)) | set(current.astype(str)))
    if len(keys) < 2:
        return 1.0
    p_ref = float(np.mean(reference.astype(str) != keys[0]))
    p_cur = float(np.mean(current.astype(str) != keys[0]))
    n_ref, n_cur = len(reference), len(current)
    pooled = (p_ref * n_ref + p_cur * n_cur) / (n_ref + n_cur)
    z = (p_ref - p_cur) / np.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    return float(2 * (1 - stats.norm.cdf(abs(z))))


def wasserstein(reference: np.ndarray, current: np.ndarray, kind: str) -> float:
    """Wasserstein-1 distance in units of the reference's standard deviation (floored at 0.001)."""
    return float(stats.wasserstein_distance(reference, current) / max(float(np.std(reference)), 0.001))


def jensenshannon(reference: np.ndarray, current: np.ndarray, kind: str) -> float:
    ref_share, cur_share = _binned(reference, current, kind)
    return float(distance.jensenshannon(ref_share, cur_share))


def psi_evidently_sturges(reference: np.ndarray, current: np.ndarray, kind: str) -> float:
    ref_share, cur_share = (_fill_zeros(s) for s in _binned(reference, current, kind))
    return float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))


def psi_reference_deciles(reference: np.ndarray, current: np.ndarray, kind: str) -> float:
    """Classic PSI over the reference's deciles (ties collapse duplicate edges); categories for categorical."""
    if kind == CATEGORICAL:
        ref_share, cur_share = _shares(reference, current)
    else:
        edges = np.unique(np.quantile(reference, np.linspace(0.1, 0.9, 9)))
        bins = len(edges) + 1
        ref_share = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=bins) / len(reference)
        cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=bins) / len(current)
    ref_share = np.clip(ref_share, DECILE_EPSILON, None)
    cur_share = np.clip(cur_share, DECILE_EPSILON, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("ks", (NUMERIC,), 0.05, True, ks),
        Method("chisquare", KINDS, 0.05, True, chisquare),
        Method("z", KINDS, 0.05, True, z_test),
        Method("wasserstein", (NUMERIC,), 0.1, False, wasserstein),
        Method("jensenshannon", KINDS, 0.1, False, jensenshannon),
        Method("psi_reference_deciles", KINDS, 0.1, False, psi_reference_deciles),
        Method("psi_evidently_sturges", KINDS, 0.1, False, psi_evidently_sturges),
    )
}


def distinct_values(reference: np.ndarray, current: np.ndarray, kind: str) -> int:
    """Distinct values in both samples together (numbers compared as numbers: formatting them as text, as a
    first version did, cost more than the column's test)."""
    if kind == NUMERIC:
        return len(np.unique(np.concatenate([reference, current])))
    return len(set(reference.tolist()) | set(current.tolist()))


def default_method(reference: np.ndarray, current: np.ndarray, kind: str, reference_distinct: int | None = None) -> str:
    """Evidently 0.7's choice for a column of this kind and these samples. `reference_distinct` (the
    reference's own distinct count, cached by callers) skips counting the union when it alone decides."""
    if kind == NUMERIC and reference_distinct is not None and reference_distinct > FEW_VALUES:
        distinct = reference_distinct  # the union has at least as many: more than FEW_VALUES either way
    else:
        distinct = distinct_values(reference, current, kind)
    categorical = kind == CATEGORICAL or distinct <= FEW_VALUES
    if len(reference) <= SMALL_REFERENCE:
        if not categorical:
            return "ks"
        return "chisquare" if distinct > 2 else "z"
    return "jensenshannon" if categorical else "wasserstein"
