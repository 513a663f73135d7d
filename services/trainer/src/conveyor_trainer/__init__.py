"""Conveyor trainer: turns a DatasetArrived (or a RetrainRequested) into a checked ONNX model.

Flow: compose the rows (an upload alone; production feedback by the declared retrain window, see
`composition.py`) → build the pipeline that carries its preprocessing from the declarative TrainingSpec
(`recipe.py`) → fit, or search → evaluate (metrics, fairness, and on feedback the champion on the same
fresh rows) → export ONNX with one input per column → check parity (holdout, unseen categories, gaps) →
store model + drift reference → publish ModelTrained. Any stage failing publishes ModelTrainingFailed.
POST /models takes a notebook's ONNX model instead of training one (`notebook.py`).
"""
