"""The one way a run fails: a TrainingFailure names the stage, and becomes a ModelTrainingFailed fact."""

STAGES = ("data", "load", "train", "evaluate", "export", "parity")


class TrainingFailure(Exception):
    """A run cannot complete; becomes a ModelTrainingFailed fact at `stage` (one of STAGES)."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason
