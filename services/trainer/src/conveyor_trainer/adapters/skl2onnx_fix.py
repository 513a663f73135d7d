"""A one-line repair of skl2onnx 1.20's HistGradientBoosting converter, applied once at import.

`add_tree_to_attribute_pairs_hist_gradient_boosting` marks leaves with `missing = False` (a Python bool) in
`nodes_missing_value_tracks_true`; onnx 1.23's make_attribute (this lock) refuses a bool in an INTS attribute
("Expected an int, got a boolean"), so every HistGradientBoosting model fails to convert. Branch nodes pass
numpy uint8, which is fine. Casting the flag to int restores conversion and changes nothing else: the
trainer's parity check (and `test_fair_trains_exports_whole_and_keeps_parity[gradient_boosting-...]`)
proves the exported model agrees.
Remove when skl2onnx casts it itself.
"""

from typing import Any

from skl2onnx.common import tree_ensemble

_original_add_node = tree_ensemble.add_node


def _add_node(*args: Any, nodes_missing_value_tracks_true: Any = 0, **kwargs: Any) -> Any:
    return _original_add_node(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kwargs)


if getattr(tree_ensemble.add_node, "__name__", "") != "_add_node":
    tree_ensemble.add_node = _add_node
