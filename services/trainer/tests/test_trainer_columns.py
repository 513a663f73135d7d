"""Every table is read into the model's input form: text with "" for a gap, float32 with NaN for the rest."""

import numpy as np
import pandas as pd

from conveyor.events.v1 import events_pb2 as ev
from conveyor_trainer.columns import MISSING_TEXT, columns_of, model_frame, onnx_feed

COLUMNS = columns_of([
    ev.Feature(name="job", kind=ev.COLUMN_KIND_CATEGORICAL, dtype="string"),
    ev.Feature(name="grade", kind=ev.COLUMN_KIND_CATEGORICAL, dtype="int64"),
    ev.Feature(name="member", kind=ev.COLUMN_KIND_BOOLEAN, dtype="bool"),
    ev.Feature(name="age", kind=ev.COLUMN_KIND_NUMERIC, dtype="float64"),
])


def test_values_from_any_writer_become_the_model_inputs() -> None:
    frame = pd.DataFrame({
        "job": [" nurse", None, 3.0, "pilot"],  # a padded text, a gap, a code a writer made a float
        "grade": [1, None, 3, 2],
        "member": ["yes", "FALSE", None, True],
        "age": ["41", None, 38.5, "n/a"],
    })
    x = model_frame(frame, COLUMNS)
    assert x["job"].tolist() == ["nurse", MISSING_TEXT, "3.0", "pilot"]
    assert x["grade"].dtype == np.float32 and np.isnan(x["grade"][1]) and x["grade"][2] == 3.0
    assert x["member"].tolist()[:2] == [1.0, 0.0] and np.isnan(x["member"][2]) and x["member"][3] == 1.0
    assert x["age"][0] == np.float32(41) and np.isnan(x["age"][1]) and np.isnan(x["age"][3])
    feed = onnx_feed(x, COLUMNS)
    assert feed["job"].dtype == object and feed["job"].shape == (4, 1)
    assert {feed[c].dtype for c in ("grade", "member", "age")} == {np.dtype(np.float32)}


def test_whole_number_codes_in_a_text_column_stay_their_category() -> None:
    x = model_frame(pd.DataFrame({"job": [3.0, 4.0, np.nan], "grade": [1, 2, 3], "member": [1, 0, 1],
                                  "age": [1.0, 2.0, 3.0]}), COLUMNS)
    assert x["job"].tolist() == ["3", "4", MISSING_TEXT]


def test_text_categories_that_look_like_dates_stay_text(store) -> None:  # type: ignore[no-untyped-def]
    from conveyor_trainer.dataset import read_frame

    data = b"shift,y\n2024-01-01 10:00,a\n,b\n2024-01-02 22:00,a\n"
    _, uri = store.put("datasets", data, ".csv")
    event = ev.DatasetArrived(uri=uri, source_format="csv", features=[
        ev.Feature(name="shift", kind=ev.COLUMN_KIND_CATEGORICAL, dtype="string")])
    x = model_frame(read_frame(store, event), columns_of(list(event.features)))
    assert x["shift"].tolist() == ["2024-01-01 10:00", MISSING_TEXT, "2024-01-02 22:00"]
