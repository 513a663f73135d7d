"""Each kind of bad upload, checked one at a time: which column, and what the reason tells the user."""

import io

import numpy as np
import pandas as pd
import pytest

from conveyor_ingest.problems import FILE
from conveyor_ingest.tabular import detect_format, read_table
from conveyor_ingest.validation import gaps, validate

MIN_ROWS = 20


def problems_of(frame, spec):
    return {p.column: p.reason for p in validate(frame, spec, MIN_ROWS)}


def only_problem(frame, spec):
    problems = validate(frame, spec, MIN_ROWS)
    assert len(problems) == 1, problems
    return problems[0]


def test_a_clean_frame_has_no_problems(frame, spec):
    assert validate(frame, spec, MIN_ROWS) == []


def test_empty_file_is_a_file_problem():
    frame, problems = read_table(b"  \n", "csv")
    assert frame is None
    assert [(p.column, "empty" in p.reason) for p in problems] == [(FILE, True)]


def test_csv_with_a_ragged_row_is_unparsable():
    frame, problems = read_table(b"a,b\n1,2\n3,4,5,6\n", "csv")
    assert frame is None
    assert problems[0].column == FILE
    assert "could not parse the file as csv" in problems[0].reason


def test_bytes_that_are_not_parquet_are_unparsable():
    frame, problems = read_table(b"a,b\n1,2\n", "parquet")
    assert frame is None
    assert "could not parse the file as parquet" in problems[0].reason


def test_a_repeated_header_is_named(frame):
    data = frame.to_csv(index=False).replace("mean_texture", "mean_radius").encode()
    parsed, problems = read_table(data, "csv")
    assert parsed is None
    assert [p.column for p in problems] == ["mean_radius"]
    assert "more than once" in problems[0].reason


def test_parquet_round_trips(frame):
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    parsed, problems = read_table(buffer.getvalue(), "parquet")
    assert problems == []
    pd.testing.assert_frame_equal(parsed, frame)


@pytest.mark.parametrize(("filename", "declared", "expected"), [
    ("x.csv", None, "csv"), ("x.PARQUET", None, "parquet"), ("x.pq", None, "parquet"),
    ("x.bin", "csv", "csv"), ("x.csv", "parquet", "parquet"), ("x.txt", None, None), ("x.csv", "xlsx", None),
])
def test_format_comes_from_the_field_else_the_extension(filename, declared, expected):
    assert detect_format(filename, declared) == expected


def test_missing_declared_column(frame, spec):
    problem = only_problem(frame.drop(columns=["mean_area"]), spec)
    assert problem.column == "mean_area"
    assert "declared as feature but missing" in problem.reason


def test_extra_undeclared_column(frame, spec):
    problem = only_problem(frame.assign(postcode="1234"), spec)
    assert problem.column == "postcode"
    assert "not declared in the spec" in problem.reason


def test_numeric_feature_with_text(frame, spec):
    frame["mean_radius"] = frame["mean_radius"].astype(object)
    frame.loc[3, "mean_radius"] = "twelve"
    problem = only_problem(frame, spec)
    assert problem.column == "mean_radius"
    assert "non-numeric" in problem.reason and "twelve" in problem.reason


def test_categorical_feature_may_be_text(frame, spec):
    frame["texture_band"] = frame["texture_band"].map({0: "low", 1: "mid", 2: "high"})
    assert validate(frame, spec, MIN_ROWS) == []


def test_categorical_feature_with_fractions_is_refused(frame, spec):
    frame["texture_band"] = frame["texture_band"] + 0.5
    problem = only_problem(frame, spec)
    assert problem.column == "texture_band"
    assert "fractional value(s) ['0.5'" in problem.reason and "declare the column numeric" in problem.reason


def test_integral_floats_count_as_integer_codes(frame, spec):
    frame["texture_band"] = frame["texture_band"].astype(float)
    assert validate(frame, spec, MIN_ROWS) == []


def test_missing_target_values(frame, spec):
    frame["diagnosis"] = frame["diagnosis"].astype(float)
    frame.loc[[2, 5], "diagnosis"] = np.nan
    problem = only_problem(frame, spec)
    assert problem.column == "diagnosis"
    assert "2 row(s) have no target value" in problem.reason and "3, 6" in problem.reason


def test_classification_target_may_be_text_labels(frame, spec):
    frame["diagnosis"] = frame["diagnosis"].map({0: "malignant", 1: "benign"})
    assert validate(frame, spec, MIN_ROWS) == []


def test_a_class_with_one_row_cannot_be_held_out(frame, spec):
    frame.loc[0, "diagnosis"] = 7
    problem = only_problem(frame, spec)
    assert problem.column == "diagnosis"
    assert "['7'] have a single row" in problem.reason


def test_classification_needs_two_classes(frame, spec):
    frame["diagnosis"] = 1
    problem = only_problem(frame, spec)
    assert problem.column == "diagnosis"
    assert "at least 2 classes" in problem.reason


def test_regression_target_may_be_fractional(frame, spec_dict):
    from conveyor_ingest.spec import DatasetSpec

    spec_dict.update(task="regression", target="mean_area",
                     features=[f for f in spec_dict["features"] if f["name"] != "mean_area"]
                     + [{"name": "diagnosis", "kind": "categorical"}])
    assert validate(frame, DatasetSpec.model_validate(spec_dict), MIN_ROWS) == []


def test_missing_feature_values_are_refused_only_where_the_policy_rejects(frame, spec):
    frame.loc[0, "mean_texture"] = np.nan  # missing: median by default, the model fills it
    frame.loc[[0, 4], "mean_radius"] = np.nan  # missing: reject
    problem = only_problem(frame, spec)
    assert problem.column == "mean_radius"
    assert "2 missing value(s) at row(s) 1, 5" in problem.reason and "missing: reject" in problem.reason


def test_infinite_feature_values(frame, spec):
    frame.loc[7, "mean_area"] = np.inf
    problem = only_problem(frame, spec)
    assert problem.column == "mean_area"
    assert "non-finite" in problem.reason and "row(s) 8" in problem.reason


def test_infinite_values_in_a_csv_are_caught(frame, spec):
    text = frame.to_csv(index=False).replace(str(frame.loc[0, "mean_radius"]), "inf", 1)
    parsed, _ = read_table(text.encode(), "csv")
    problem = only_problem(parsed, spec)
    assert (problem.column, "non-finite" in problem.reason) == ("mean_radius", True)


def test_too_few_rows(frame, spec):
    problem = only_problem(frame.head(MIN_ROWS - 1), spec)
    assert problem.column == FILE
    assert f"{MIN_ROWS - 1} data rows; at least {MIN_ROWS}" in problem.reason


def test_duplicate_subject_ids(frame, spec):
    frame.loc[5, "patient_id"] = frame.loc[4, "patient_id"]
    problem = only_problem(frame, spec)
    assert problem.column == "patient_id"
    assert "appear more than once" in problem.reason and "p0004" in problem.reason


def test_every_problem_is_reported_not_just_the_first(frame, spec):
    frame = frame.drop(columns=["mean_area"]).assign(postcode="x")
    frame.loc[0, "mean_radius"] = np.nan
    frame["diagnosis"] = 0
    problems = problems_of(frame, spec)
    assert set(problems) == {"mean_area", "postcode", "mean_radius", "diagnosis"}


def test_a_blank_text_is_a_gap_wherever_it_repeats() -> None:
    column = pd.Series(["a", "", None, "  ", " b ", "a", "", np.nan, 3], dtype=object)
    assert gaps(column).tolist() == [False, True, True, True, False, False, True, True, False]
    assert gaps(pd.Series([1.0, np.nan, 2.0])).tolist() == [False, True, False]
