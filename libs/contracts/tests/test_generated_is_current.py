"""The committed generated code must be exactly what protoc makes from proto/ today."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GENERATED = {  # where scripts/gen-contracts.sh writes, relative to its output folder -> the committed copy
    "events/conveyor/events/v1": ROOT / "libs/contracts/src/conveyor/events/v1",
    "oip/conveyor_serving/oip": ROOT / "services/serving/src/conveyor_serving/oip",
}


@pytest.mark.parametrize("fresh_dir", list(GENERATED))
def test_regenerating_contracts_changes_nothing(tmp_path, fresh_dir):
    subprocess.run(
        ["bash", str(ROOT / "scripts/gen-contracts.sh"), str(tmp_path / "events"), str(tmp_path / "oip")],
        check=True, env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
    )
    committed = GENERATED[fresh_dir]
    fresh = sorted(p.name for p in (tmp_path / fresh_dir).iterdir())
    assert fresh == sorted(p.name for p in committed.glob("*_pb2*.py*"))
    for name in fresh:
        assert (tmp_path / fresh_dir / name).read_text() == (committed / name).read_text(), (
            f"{name} is stale: run scripts/gen-contracts.sh and commit the result"
        )


def test_every_event_has_a_topic():
    from conveyor.events.v1 import events_pb2
    from conveyor_kernel.topics import TOPIC_OF

    top_level_events = {"DatasetArrived", "DatasetRejected", "ModelTrained", "ModelTrainingFailed",
                        "ModelRegistered", "ModelPromoted", "PromotionDeclined", "ModelDeployed",
                        "PredictionsLogged", "DriftDetected", "RetrainRequested",
                        "CheckpointIssued", "ReportPublished", "FairnessDegraded", "PerformanceDegraded",
                        "TrafficSplitSet", "RetrainDeferred", "FeedbackCollected", "ConsentChanged",
                        "DatasetErased", "ErasureCompleted", "TrainingRunsFlagged", "ModelVersionFlagged",
                        "FactsDeclared", "PolicyPublished", "PromotionRequested", "PromotionGatesEvaluated",
                        "PromotionApprovalRecorded", "PromotionClosed", "AliasMoved", "RiskTierSet"}
    assert {cls.DESCRIPTOR.name for cls in TOPIC_OF} == top_level_events
    assert top_level_events <= set(events_pb2.DESCRIPTOR.message_types_by_name)
