"""A retrain that learns: the window policy picks the rows, the fresh holdout judges champion and
challenger on the same newest rows, and a retrain with nothing new to learn from mints nothing."""

import math

import numpy as np
import pandas as pd
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Dispatcher, topics
from conveyor_kernel.memory import InMemoryBus
from conveyor_trainer.composition import compose
from conveyor_trainer.dataset import Table
from conveyor_trainer.handlers import TrainerPorts, handlers

from .conftest import fair_features, table_event

DAY_MS = 86_400_000


def version(number: int, rows: int, feedback: bool = True, end_ms: int = 0, **policy: object) -> ev.DatasetArrived:
    provenance = ev.DatasetProvenance(kind="production_feedback" if feedback else "upload", model_version=1,
                                      model_artifact_uri="file:///v1.onnx" if feedback else "",
                                      window_end_ms=end_ms)
    retrain = ev.RetrainPolicy(**{"include_original": True, "fresh_holdout_fraction": 0.25, **policy})
    return ev.DatasetArrived(dataset_id=f"d{number}", name="n", version=number, row_count=rows,
                             provenance=provenance, training=ev.TrainingSpec(retrain=retrain))


def fake_read(dataset: ev.DatasetArrived) -> Table:
    """Row i of version v holds the value v * 1000 + i, so where each row came from is visible."""
    values = np.arange(dataset.row_count) + dataset.version * 1000
    return Table(dataset.dataset_id, pd.DataFrame({"x": values.astype(np.float32)}),
                 np.where(values % 2 == 0, "a", "b").astype(object), pd.DataFrame(index=range(dataset.row_count)))


def origin(table: Table) -> list[int]:
    return sorted({int(v) // 1000 for v in table.x["x"]})


def test_an_upload_trains_alone_on_a_seeded_split() -> None:
    upload = version(1, 100, feedback=False)
    rows = compose(upload, [], fake_read, 0.2, 7, classification=True)
    assert (len(rows.train.y), len(rows.holdout.y), rows.dataset_ids, rows.fresh) == (80, 20, ["d1"], None)


def test_feedback_trains_on_the_window_plus_the_original_and_holds_out_the_newest_rows() -> None:
    versions = [version(1, 100, feedback=False), version(2, 40), version(3, 60)]
    rows = compose(versions[2], versions[:2], fake_read, 0.2, 7, classification=True)
    fresh = math.ceil(60 * 0.25)
    assert rows.holdout.x["x"].tolist() == list(range(3000 + 60 - fresh, 3060))  # the newest rows of v3
    assert origin(rows.train) == [1, 2, 3] and len(rows.train.y) == 100 + 40 + 60 - fresh
    assert rows.dataset_ids == ["d1", "d2", "d3"]
    assert rows.fresh is not None and rows.fresh.champion_version == 1
    assert rows.fresh.description == f"the newest {fresh} labelled production rows (of 60 in n v3) that v1 served"


def test_window_rows_keeps_the_newest_labelled_rows_only() -> None:
    versions = [version(1, 100, feedback=False), version(2, 40), version(3, 60, window_rows=50,
                                                                          include_original=False)]
    rows = compose(versions[2], versions[:2], fake_read, 0.2, 7, classification=True)
    assert len(rows.train.y) + len(rows.holdout.y) == 50 and origin(rows.train) == [3]


def test_window_days_drops_feedback_that_ended_too_long_ago() -> None:
    old, recent = version(2, 40, end_ms=1 * DAY_MS), version(3, 30, end_ms=9 * DAY_MS)
    newest = version(4, 20, end_ms=10 * DAY_MS, window_days=2, include_original=False)
    rows = compose(newest, [version(1, 100, feedback=False), old, recent], fake_read, 0.2, 7, classification=True)
    assert origin(rows.train) == [3, 4]


def test_too_few_labelled_rows_without_the_original_fail_as_data() -> None:
    from conveyor_trainer.failures import TrainingFailure

    with pytest.raises(TrainingFailure) as caught:
        compose(version(2, 1, include_original=False), [], fake_read, 0.2, 7, classification=True)
    assert caught.value.stage == "data" and "too few" in caught.value.reason


# --- the loop, through the handlers on the in-memory bus ------------------------------------------------


async def deliver(bus: InMemoryBus, ports: TrainerPorts, event, subject: str = "fair") -> None:  # type: ignore[no-untyped-def]
    start = len(bus.records)
    await bus.publish(event, subject)
    table = handlers(ports)
    await bus.drain(Dispatcher(table, group="trainer", max_retries=0), topics.subscribed_by(table), start=start)


def shifted(frame: pd.DataFrame) -> pd.DataFrame:
    """A population whose labels follow another rule than the survey's: among these readers an affair goes
    with short marriages and the teaching and student occupations, whatever the old signals say."""
    shifted = frame.drop(columns=["affairs"]).reset_index(drop=True)
    rule = (shifted["yrs_married"] < 7) | shifted["occupation"].isin(["teacher", "student"])
    shifted["had_affair"] = np.where(rule, "yes", "no")
    return shifted


def feedback_event(store, frame: pd.DataFrame, champion: ev.ModelTrained, **policy: object) -> ev.DatasetArrived:  # type: ignore[no-untyped-def]
    retrain = ev.RetrainPolicy(**{"include_original": False, "fresh_holdout_fraction": 0.3, **policy})
    event = table_event(store, frame, fair_features(), "had_affair", version=2, fmt="parquet", retrain=retrain)
    event.provenance.CopyFrom(ev.DatasetProvenance(
        kind="production_feedback", parent_dataset_id=champion.dataset_id, model_name="fair", model_version=1,
        model_artifact_uri=champion.artifact_uri, window_start_ms=1, window_end_ms=2, reason="drift"))
    return event


def survey(fair_frame: pd.DataFrame) -> pd.DataFrame:
    """The table is sorted by the affairs count: shuffle it once, as any slice should hold both answers."""
    return fair_frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


async def test_feedback_retrains_on_the_new_rows_and_beats_the_champion_on_them(bus, ports, store, fair_frame) -> None:  # type: ignore[no-untyped-def]
    fair_frame = survey(fair_frame)
    original = table_event(store, fair_frame.drop(columns=["affairs"]).iloc[:3000], fair_features(), "had_affair")
    await deliver(bus, ports, original)
    [champion] = bus.events(ev.ModelTrained)
    await deliver(bus, ports, feedback_event(store, shifted(fair_frame.iloc[3000:3800]), champion))
    first, retrained = bus.events(ev.ModelTrained)
    assert retrained.trigger == "production_feedback"
    assert retrained.artifact_uri != first.artifact_uri  # a new model, not the champion minted again
    assert retrained.training_rows == 800 - 240
    comparison = retrained.comparison
    assert (comparison.champion_version, comparison.rows) == (1, 240)
    assert dict(comparison.challenger_metrics) == dict(retrained.metrics)
    assert comparison.challenger_metrics["roc_auc"] > comparison.champion_metrics["roc_auc"] + 0.1
    assert "240 labelled production rows" in comparison.description
    run = ports.state.run(retrained.run_id)
    assert run["comparison"]["champion_version"] == "1" and run["training_rows"] == 560


async def test_feedback_with_the_original_trains_on_both(bus, ports, store, fair_frame) -> None:  # type: ignore[no-untyped-def]
    fair_frame = survey(fair_frame)
    original = table_event(store, fair_frame.drop(columns=["affairs"]).iloc[:2000], fair_features(), "had_affair")
    await deliver(bus, ports, original)
    [champion] = bus.events(ev.ModelTrained)
    feedback = feedback_event(store, shifted(fair_frame.iloc[3000:3400]), champion, include_original=True)
    await deliver(bus, ports, feedback)
    retrained = bus.events(ev.ModelTrained)[-1]
    assert list(retrained.training_dataset_ids) == [original.dataset_id, feedback.dataset_id]
    assert retrained.training_rows == 2000 + 400 - 120


async def test_a_retrain_with_nothing_newer_mints_nothing(bus, ports, make_dataset) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset()
    await deliver(bus, ports, dataset)
    await deliver(bus, ports, ev.RetrainRequested(model_name="cancer", version=1, dataset_id=dataset.dataset_id,
                                                  reason="data drift", trigger="drift"))
    assert len(bus.events(ev.ModelTrained)) == 1
    [failed] = bus.events(ev.ModelTrainingFailed)
    assert (failed.model_name, failed.stage, failed.dataset_id) == ("cancer", "data", dataset.dataset_id)
    assert "nothing newer to learn from" in failed.reason and "already trained on" in failed.reason
    assert ports.state.recent_runs(1)[0]["stage"] == "data"


async def test_a_retrain_of_an_unknown_dataset_looks_at_the_newest_and_finds_nothing_new(bus, ports, make_dataset,
                                                                                       cancer_frame) -> None:  # type: ignore[no-untyped-def]
    await deliver(bus, ports, make_dataset())
    await deliver(bus, ports, make_dataset(frame=cancer_frame.iloc[:150]))
    await deliver(bus, ports, ev.RetrainRequested(model_name="cancer", dataset_id="f" * 64))
    assert len(bus.events(ev.ModelTrained)) == 2
    assert bus.events(ev.ModelTrainingFailed)[0].stage == "data"


async def test_a_retrain_trains_on_newer_data_it_has_not_learned_from(bus, ports, make_dataset, cancer_frame) -> None:  # type: ignore[no-untyped-def]
    first = make_dataset()
    await deliver(bus, ports, first)
    newer = make_dataset(frame=cancer_frame.iloc[:150])
    newer.version = 2
    ports.state.remember_dataset(newer, "cancer")  # seen, but its own run never finished
    await deliver(bus, ports, ev.RetrainRequested(model_name="cancer", version=1, dataset_id=first.dataset_id))
    retrained = bus.events(ev.ModelTrained)[-1]
    assert (retrained.trigger, retrained.dataset_id) == ("retrain_requested", newer.dataset_id)


def test_a_tight_row_window_still_holds_out_only_rows_it_kept() -> None:
    newest = version(3, 60, window_rows=10, include_original=True)
    rows = compose(newest, [version(1, 100, feedback=False)], fake_read, 0.2, 7, classification=True)
    assert len(rows.holdout.y) == 3 and rows.holdout.x["x"].tolist() == [3057, 3058, 3059]
    assert len(rows.train.y) == 100 + 7


def test_a_champion_from_before_named_columns_is_judged_too(store, cancer_frame) -> None:  # type: ignore[no-untyped-def]
    """Champions exported with one float32 matrix input "input" still get their fresh numbers."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    from conveyor_trainer.columns import columns_of, model_frame
    from conveyor_trainer.comparison import compare
    from conveyor_trainer.composition import Fresh
    from conveyor_trainer.dataset import class_array

    names = [c for c in cancer_frame.columns if c not in ("target", "size_group")]
    legacy = LogisticRegression(max_iter=5000).fit(cancer_frame[names].to_numpy(np.float32), cancer_frame["target"])
    onnx_model = convert_sklearn(legacy, initial_types=[("input", FloatTensorType([None, len(names)]))],
                                 options={id(legacy): {"zipmap": False}}, target_opset={"": 21, "ai.onnx.ml": 3})
    _, uri = store.put("models", onnx_model.SerializeToString(), ".onnx")
    columns = columns_of([ev.Feature(name=n, kind=ev.COLUMN_KIND_NUMERIC) for n in names])
    rows = cancer_frame.tail(60)
    holdout = Table("d", model_frame(rows, columns), class_array(rows["target"].astype(str).to_numpy()),
                    rows[["size_group"]])
    comparison = compare(store, Fresh(1, uri, "the newest 60 rows"), holdout, columns, ev.TASK_CLASSIFICATION,
                         {"roc_auc": 0.5}, ["0", "1"])
    assert comparison is not None and comparison.rows == 60
    assert comparison.champion_metrics["accuracy"] == pytest.approx(
        float(np.mean(legacy.predict(rows[names].to_numpy(np.float32)) == rows["target"].to_numpy())))
