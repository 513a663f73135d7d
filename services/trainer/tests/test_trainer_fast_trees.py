"""The vectorized tree walk (adapters/fast_trees.py) gives skl2onnx's own ONNX, byte for byte."""

import numpy as np
import pandas as pd
import pytest
from onnx import helper
from skl2onnx.common import _container, tree_ensemble
from skl2onnx.operator_converters import random_forest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_trainer.adapters import fast_trees
from conveyor_trainer.columns import columns_of, model_frame
from conveyor_trainer.onnx_export import export_onnx
from conveyor_trainer.recipe import build_pipeline

from .conftest import fair_features


def _exports(pipeline, task, columns, labels) -> tuple[bytes, bytes]:  # type: ignore[no-untyped-def]
    """(the vectorized path's bytes, skl2onnx's and onnx's own loops' bytes) for one fitted pipeline."""
    assert random_forest.add_tree_to_attribute_pairs is fast_trees.add_tree_to_attribute_pairs
    assert _container.make_node is fast_trees.make_node
    fast = export_onnx(pipeline, task, columns, 21, "m", labels)
    random_forest.add_tree_to_attribute_pairs = tree_ensemble.add_tree_to_attribute_pairs
    _container.make_node = helper.make_node
    try:
        original = export_onnx(pipeline, task, columns, 21, "m", labels)
    finally:
        random_forest.add_tree_to_attribute_pairs = fast_trees.add_tree_to_attribute_pairs
        _container.make_node = fast_trees.make_node
    return fast, original


@pytest.mark.parametrize(("task", "target"), [
    (ev.TASK_CLASSIFICATION, "had_affair"),  # binary, text labels: only the positive class's leaf weights
    (ev.TASK_CLASSIFICATION, "rate_marriage"),  # five classes, whole-number labels
    (ev.TASK_REGRESSION, "affairs"),
])
def test_fast_tree_attributes_give_byte_identical_onnx(fair_frame: pd.DataFrame, task: int, target: str) -> None:
    features = [f for f in fair_features() if f.name != target]
    columns = columns_of(features)
    rows = fair_frame.head(3000)
    x, y = model_frame(rows, columns), rows[target].to_numpy()
    spec = ev.TrainingSpec(estimator="random_forest", seed=3, params={"n_estimators": "7"})
    pipeline = build_pipeline(spec, task, columns)
    pipeline.fit(x, y.astype(np.int64) if target == "rate_marriage" else y)
    labels = [str(c) for c in pipeline.classes_] if task == ev.TASK_CLASSIFICATION else []
    fast, original = _exports(pipeline, task, columns, labels)
    assert fast == original


def test_float32_thresholds_match_skl2onnx_on_awkward_values() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1e3, 2000), rng.normal(0, 1e-3, 2000), [0.0, -0.0, 0.5, 1.5, -2.25],
                             np.float32(rng.normal(0, 1, 200)).astype(np.float64)])  # exactly representable ones
    expected = [tree_ensemble.sklearn_threshold(v, np.float32, "BRANCH_LEQ") for v in values]
    assert fast_trees.float32_thresholds(values).tolist() == [float(e) for e in expected]
