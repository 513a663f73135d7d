"""Champion and challenger on the same fresh rows: the numbers the registry's policy decides with.

The champion is the version whose predictions were labelled (the feedback's provenance names its ONNX
file); it runs here with ONNX Runtime, exactly as serving ran it. If its file cannot be read or run, the
run still trains and says so in the log: the registry then falls back to the holdout numbers of each
version, and its reasons say that no fresh comparison was made.
"""

import logging
from collections.abc import Sequence

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, InvalidMessage

from .adapters.onnx_model import ModelUnusable, OnnxModel
from .columns import Column
from .composition import Fresh
from .dataset import Table
from .holdout import metrics_of

logger = logging.getLogger(__name__)


def compare(store: ArtifactStore, fresh: Fresh, holdout: Table, columns: Sequence[Column], task: int,
            challenger_metrics: dict[str, float], class_labels: Sequence[str]) -> ev.HoldoutComparison | None:
    try:
        champion = OnnxModel(store.get(fresh.champion_artifact_uri))
        predicted = champion.predict(holdout.x, columns, task, fallback_classes=class_labels)
        champion_metrics = metrics_of(task, holdout.y, predicted)
    except (InvalidMessage, ModelUnusable, ValueError) as exc:
        logger.warning("could not judge v%d on the fresh holdout (%s): no comparison", fresh.champion_version, exc)
        return None
    return ev.HoldoutComparison(
        champion_version=fresh.champion_version, champion_metrics=champion_metrics,
        challenger_metrics=challenger_metrics, rows=len(holdout.y), description=fresh.description,
    )
