"""Conveyor monitor: watches the champion model's live inputs and predictions for drift, asks for retraining.

It consumes through faust-streaming instead of the kernel's consumer loop because its open windows and
champions live in faust tables whose changelogs restore them after a crash (the kernel's dispatch rule and
dead-letter forwarder still judge every record).
"""
