"""skl2onnx's random forest converters, fed by numpy instead of a Python loop per tree node (installed on import).

skl2onnx 1.20 turns each scikit-learn tree into ONNX attribute lists node by node: `add_node` and, for every
branch, `sklearn_threshold` (a few numpy scalar calls). A random forest grows its trees to the last sample
(min_samples_leaf=1): about 15,000 nodes per tree on bench/training.py's 37,500 training rows, so exporting
50 trees took as long as fitting them, and the platform's run cost 2.47x a plain fit.

Two steps took the time, and each is replaced by one that gives the same result from whole arrays:
- `add_tree_to_attribute_pairs` appends the same values, in the same order, to the same lists, computed on the
  tree's arrays at once. What it does not cover (float64 inputs, whose threshold search is iterative) goes to
  skl2onnx's loop.
- `make_node` for the TreeEnsemble operators: onnx's `make_attribute` checks and converts every element of
  every list in Python (a million per forest); here each long list becomes its AttributeProto in one call.
The exported bytes are identical to skl2onnx's own (`test_fast_tree_attributes_give_byte_identical_onnx`), so
parity and content addresses are unchanged. Remove when skl2onnx vectorizes the walk itself.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
from onnx import AttributeProto, NodeProto, helper
from skl2onnx.common import _container, tree_ensemble
from skl2onnx.operator_converters import random_forest

_original = tree_ensemble.add_tree_to_attribute_pairs
_original_make_node = _container.make_node
_BELOW = np.float32(-np.inf)
_TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
_LISTS = {"b": AttributeProto.INTS, "i": AttributeProto.INTS, "u": AttributeProto.INTS,
          "f": AttributeProto.FLOATS, "U": AttributeProto.STRINGS}


def float32_thresholds(thresholds: np.ndarray) -> np.ndarray:
    """skl2onnx's `sklearn_threshold` for float32 inputs, vectorized: scikit-learn compares the float32 input
    with a float64 threshold, ONNX with a float32 one; the largest float32 that is not above the threshold
    keeps `x <= t` the same for every float32 x."""
    rounded = thresholds.astype(np.float32)
    return np.where(rounded <= thresholds, rounded, np.nextafter(rounded, _BELOW)).astype(np.float64)


def add_tree_to_attribute_pairs(attr_pairs: dict[str, Any], is_classifier: bool, tree: Any, tree_id: int,
                                tree_weight: float, weight_id_bias: int, leaf_weights_are_counts: bool,
                                adjust_threshold_for_sklearn: bool = False, dtype: Any = None) -> None:
    if adjust_threshold_for_sklearn and dtype != np.float32:
        _original(attr_pairs, is_classifier, tree, tree_id, tree_weight, weight_id_bias, leaf_weights_are_counts,
                  adjust_threshold_for_sklearn, dtype)
        return
    count = tree.node_count
    ids = np.arange(count)
    branch = (tree.children_left[:count] > ids) | (tree.children_right[:count] > ids)
    thresholds = np.asarray(tree.threshold[:count], dtype=np.float64)[branch]
    values = np.zeros(count, dtype=np.float64)
    values[branch] = float32_thresholds(thresholds) if adjust_threshold_for_sklearn else thresholds
    attr_pairs["nodes_treeids"].extend([tree_id] * count)
    attr_pairs["nodes_nodeids"].extend(range(count))
    attr_pairs["nodes_featureids"].extend(np.where(branch, tree.feature[:count], 0).tolist())
    attr_pairs["nodes_modes"].extend(np.where(branch, "BRANCH_LEQ", "LEAF").tolist())
    attr_pairs["nodes_values"].extend(values.tolist())
    attr_pairs["nodes_truenodeids"].extend(np.where(branch, tree.children_left[:count], 0).tolist())
    attr_pairs["nodes_falsenodeids"].extend(np.where(branch, tree.children_right[:count], 0).tolist())
    attr_pairs["nodes_missing_value_tracks_true"].extend([0] * count)
    attr_pairs["nodes_hitrates"].extend([1.0] * count)
    _add_leaves(attr_pairs, is_classifier, tree, ids[~branch], tree_id, tree_weight, weight_id_bias,
                leaf_weights_are_counts)


def _add_leaves(attr_pairs: dict[str, Any], is_classifier: bool, tree: Any, leaves: np.ndarray, tree_id: int,
                tree_weight: float, weight_id_bias: int, leaf_weights_are_counts: bool) -> None:
    weights = np.asarray(tree.value, dtype=np.float64)[leaves].reshape(len(leaves), -1)
    factor = np.full(len(leaves), float(tree_weight))
    if leaf_weights_are_counts:
        total = np.zeros(len(leaves))
        for column in weights.T:  # left to right, as Python's sum() adds them
            total += column
        factor /= np.where(total != 0.0, total, 1.0)
    weights = weights * factor[:, None]
    if weights.shape[1] == 2 and is_classifier:
        weights = weights[:, 1:]  # binary: the positive class's weight only
    width = weights.shape[1]
    prefix = "class" if is_classifier else "target"
    attr_pairs[f"{prefix}_treeids"].extend([tree_id] * (len(leaves) * width))
    attr_pairs[f"{prefix}_nodeids"].extend(np.repeat(leaves, width).tolist())
    attr_pairs[f"{prefix}_ids"].extend(np.tile(np.arange(width) + weight_id_bias, len(leaves)).tolist())
    attr_pairs[f"{prefix}_weights"].extend(weights.ravel().tolist())


def make_node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], name: str | None = None,
              **attrs: Any) -> NodeProto:
    """onnx.helper.make_node, with each long list of a tree ensemble filled from an array at once."""
    if op_type not in _TREE_OPS:
        return _original_make_node(op_type, inputs, outputs, name=name, **attrs)
    node = _original_make_node(op_type, inputs, outputs, name=name)
    for key, value in sorted(attrs.items()):  # make_node's order: sorted by name, None left out
        if value is None:
            continue
        array = np.asarray(value) if isinstance(value, list | np.ndarray) else None
        kind = _LISTS.get(array.dtype.kind) if array is not None and array.ndim == 1 and len(array) else None
        attribute = node.attribute.add()
        if kind is None:
            attribute.CopyFrom(helper.make_attribute(key, value))
            continue
        attribute.name, attribute.type = key, kind
        if kind == AttributeProto.INTS:
            attribute.ints.extend(array.astype(np.int64).tolist())
        elif kind == AttributeProto.FLOATS:
            attribute.floats.extend(array.tolist())
        else:
            attribute.strings.extend(np.char.encode(array, "utf-8").tolist())
    return node


if random_forest.add_tree_to_attribute_pairs is _original:
    random_forest.add_tree_to_attribute_pairs = add_tree_to_attribute_pairs
if _container.make_node is _original_make_node:
    _container.make_node = make_node
