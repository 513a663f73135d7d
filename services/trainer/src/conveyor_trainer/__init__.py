"""Conveyor trainer: turns a DatasetArrived (or a RetrainRequested) into a checked ONNX model.

Flow: load the dataset → build the scikit-learn pipeline from the declarative TrainingSpec → train on a
seeded split → evaluate (metrics + fairness) on the holdout → export ONNX → check ONNX/scikit-learn parity
→ store model + drift reference → publish ModelTrained. Any stage failing publishes ModelTrainingFailed.
"""
