"""A one-line repair of skl2onnx 1.20's HistGradientBoosting converter, applied once at import.

`add_tree_to_attribute_pairs_hist_gradient_boosting` marks leaves with `missing = False` (a Python bool) in
`nodes_missing_value_tracks_true`; onnx 1.23's make_attribute (this lock) refuses a bool in an INTS
attribute ("Expected an int, got a boolean"), so every HistGradientBoosting model fails to convert. Branch
nodes pass numpy uint8, which is fine. Casting the flag to int restores conversion and changes nothing
else: the trainer's parity check (and `test_fair_trains_exports_whole_and_keeps_parity[gradient_boosting-...]`)
proves the exported model agrees.

Only that function's calls are wrapped: the converters import it by name from `random_forest`, where it is
replaced; random forests (hundreds of thousands of add_node calls) keep the original path at full speed.
Remove when skl2onnx casts the flag itself.
"""

from typing import Any

from skl2onnx.common import tree_ensemble
from skl2onnx.operator_converters import random_forest

_original_add_node = tree_ensemble.add_node
_original_hist = tree_ensemble.add_tree_to_attribute_pairs_hist_gradient_boosting


def _add_node(*args: Any, nodes_missing_value_tracks_true: Any = 0, **kwargs: Any) -> Any:
    return _original_add_node(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kwargs)


def _hist_with_int_flags(*args: Any, **kwargs: Any) -> Any:
    tree_ensemble.add_node = _add_node  # the function looks add_node up in its module on every call
    try:
        return _original_hist(*args, **kwargs)
    finally:
        tree_ensemble.add_node = _original_add_node


if random_forest.add_tree_to_attribute_pairs_hist_gradient_boosting is _original_hist:
    random_forest.add_tree_to_attribute_pairs_hist_gradient_boosting = _hist_with_int_flags
