"""Our drift numbers against Evidently 0.7's on the same data (Evidently is a dev-only dependency)."""

import numpy as np
import pandas as pd
import pytest

from conveyor_monitor.report import DriftReportRequest, drift_report


def evidently_drift(reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str],
                    method: str | None = None) -> tuple[dict[str, tuple[str, float]], float]:
    # Imported here: Evidently is a dev dependency (root pyproject) and takes seconds to import.
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    columns = numeric + categorical
    metrics = [ValueDrift(column=c, method=method) for c in columns] + [DriftedColumnsCount()]
    snapshot = Report(metrics).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    results = snapshot.dict()["metrics"]
    per_column = {r["config"]["column"]: (r["config"]["method"], float(r["value"])) for r in results[:-1]}
    return per_column, float(results[-1]["value"]["share"])


def frames(rows_reference: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def draw(n: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame({
            "age": rng.normal(50 + 10 * shift, 12, n).round(1),
            "income": rng.lognormal(10, 0.5 + shift / 4, n),
            "visits": rng.integers(0, 4 + int(shift), n).astype(float),  # few distinct values: a category
            "clinic": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2] if shift == 0 else [0.3, 0.3, 0.4]),
            "smoker": rng.choice(["no", "yes"], n, p=[0.7 - shift / 5, 0.3 + shift / 5]),
        })

    return draw(rows_reference, 0.0), draw(400, 0.5)


NUMERIC = ["age", "income", "visits"]
CATEGORICAL = ["clinic", "smoker"]
EVIDENTLY_NAMES = {
    "ks": "K-S p_value", "chisquare": "chi-square p_value", "z": "Z-test p_value",
    "wasserstein": "Wasserstein distance (normed)", "jensenshannon": "Jensen-Shannon distance",
    "psi_evidently_sturges": "PSI",
}


def ours(reference: pd.DataFrame, current: pd.DataFrame, method: str | None = None) -> dict:
    types = {c: "numeric" for c in NUMERIC} | {c: "categorical" for c in CATEGORICAL}
    return drift_report(DriftReportRequest(
        reference=reference.to_dict(orient="list"), current=current.to_dict(orient="list"), column_types=types,
        method=method,
    ))


@pytest.mark.parametrize("rows_reference", [800, 1500])  # both sides of Evidently's 1,000-row switch
def test_default_methods_and_scores_match_evidently(rows_reference):
    reference, current = frames(rows_reference, seed=rows_reference)
    theirs, their_share = evidently_drift(reference, current, NUMERIC, CATEGORICAL)
    report = ours(reference, current)
    for column, (their_method, their_score) in theirs.items():
        mine = report["columns"][column]
        assert EVIDENTLY_NAMES[mine["method"]] == their_method, column
        assert mine["score"] == pytest.approx(their_score, rel=1e-6, abs=1e-12), column
    assert report["drift_share"] == pytest.approx(their_share)
    methods = {c: report["columns"][c]["method"] for c in report["columns"]}
    if rows_reference <= 1000:
        assert methods == {"age": "ks", "income": "ks", "visits": "chisquare", "clinic": "chisquare", "smoker": "z"}
    else:
        assert set(methods.values()) == {"wasserstein", "jensenshannon"}


@pytest.mark.parametrize(("method", "their_name"), [("psi_evidently_sturges", "psi"),
                                                    ("jensenshannon", "jensenshannon")])
def test_named_methods_match_evidently(method, their_name):
    reference, current = frames(600, seed=3)
    theirs, _ = evidently_drift(reference, current, NUMERIC, CATEGORICAL, their_name)
    report = ours(reference, current, method)
    for column, (_, their_score) in theirs.items():
        assert report["columns"][column]["score"] == pytest.approx(their_score, rel=1e-6), column


def test_the_two_psi_variants_differ_on_the_same_data():
    reference, current = frames(1000, seed=9)
    sturges = ours(reference, current, "psi_evidently_sturges")["columns"]["income"]["score"]
    deciles = ours(reference, current, "psi_reference_deciles")["columns"]["income"]["score"]
    assert sturges != pytest.approx(deciles, rel=0.2)  # why each variant carries its own name


@pytest.mark.parametrize("rows_reference", [600, 1500])
def test_string_categories_with_gaps_through_the_window_path_match_evidently(rows_reference):
    """The live path: the trainer's reference (raw strings, null for a gap), a window as serving logs it
    ("" for a missing string, NaN for a missing number); Evidently drops gaps before its tests, and so do we."""
    from conveyor_monitor.drift import evaluate_window
    from conveyor_monitor.reference import parse_reference

    rng = np.random.default_rng(rows_reference)
    reference, current = frames(rows_reference, seed=rows_reference + 1)
    reference.loc[reference.index % 11 == 0, "clinic"] = None
    reference.loc[reference.index % 13 == 0, "age"] = None
    gaps = rng.uniform(size=len(current)) < 0.1
    current.loc[gaps, "clinic"] = None
    current.loc[rng.uniform(size=len(current)) < 0.05, "age"] = np.nan
    kinds = {c: "numeric" for c in NUMERIC} | {c: "categorical" for c in CATEGORICAL}
    document = {"feature_names": NUMERIC + CATEGORICAL, "kinds": kinds,
                "columns": {c: [None if pd.isna(v) else v for v in reference[c]] for c in NUMERIC + CATEGORICAL}}
    window = {c: current[c].tolist() for c in NUMERIC} | {c: [v or "" for v in current[c]] for c in CATEGORICAL}
    ours_ = {r.feature: r for r in evaluate_window(parse_reference(document, "ref").prepared, window).features}
    theirs, _ = evidently_drift(reference, current, NUMERIC, CATEGORICAL)
    for column, (their_method, their_score) in theirs.items():
        assert EVIDENTLY_NAMES[ours_[column].method] == their_method, column
        assert ours_[column].score == pytest.approx(their_score, rel=1e-6, abs=1e-12), column
    assert ours_["clinic"].method == ("chisquare" if rows_reference <= 1000 else "jensenshannon")
