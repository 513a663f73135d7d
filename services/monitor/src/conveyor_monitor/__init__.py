"""Conveyor monitor: watches the champion model's live inputs and predictions for drift, asks for retraining."""
