"""Faust tables: durable per-model state, restored from its changelog topic after a restart."""

import faust


def create_champions_table(app: faust.App) -> faust.Table:
    """model name -> {"version", "reference_uri", "dataset_id", "feature_names"}: plain JSON values.

    No default: a REST read of an unknown model must not write to the table (faust forbids writes
    outside a stream, and a read with a default would write).
    """
    return app.Table(
        "champions", partitions=app.conf.topic_partitions, key_type=str,
        help="the current champion of each model and its reference",
    )


def create_windows_table(app: faust.App) -> faust.Table:
    """model name -> the open window (rows, outputs, attributes, batch ids): see window.WindowBuffer.

    Every batch rewrites the model's entry, so the changelog holds one record per batch; it is compacted,
    and recovery after a crash replays it before the agents consume again.
    """
    return app.Table(
        "windows", partitions=app.conf.topic_partitions, key_type=str,  # values: JSON (faust's default for tables)
        help="each model's open prediction window, so a restart neither loses nor double-counts rows",
    )
