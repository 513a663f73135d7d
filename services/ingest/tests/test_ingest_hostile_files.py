"""Issue 15, findings 2 and 9: files an attacker or an unlucky operator sends. Each is refused before it costs
memory, with a message that names the column or the setting and the fix."""

import gzip
import hashlib
import io
import json
import resource

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from conveyor_ingest.settings import IngestSettings
from conveyor_ingest.wiring import create_app
from conveyor_kernel.callers import bearer, signed, token_for
from conveyor_kernel.identity import DATA_SCIENTIST
from conveyor_kernel.memory import InMemoryBus

from .test_ingest_api import assert_rejection_announced, csv_of, post, stored_files


@pytest.fixture
def settings(tmp_path) -> IngestSettings:
    return IngestSettings(data_dir=tmp_path)


@pytest.fixture
def bus() -> InMemoryBus:
    return InMemoryBus(source="ingest")


@pytest.fixture
def client(settings, bus):
    with signed(TestClient(create_app(settings, transport=bus))) as test_client:
        yield test_client


def _parquet_bomb(rows: int) -> bytes:
    """One constant column: dictionary and run-length encoding make 40 million rows a few hundred KB."""
    table = pa.table({"mean_radius": pa.array(np.zeros(rows, dtype=np.int8))})
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def test_a_parquet_bomb_is_413_from_its_footer_without_decoding_it(client, bus, settings, spec_dict):
    data = _parquet_bomb(40_000_000)
    assert len(data) < 1_000_000  # under the 50 MB upload limit by far
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    response = post(client, data, spec_dict, filename="bomb.parquet")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert response.status_code == 413, response.text
    reason = response.json()["errors"][0]["reason"]
    assert reason.startswith("the file holds 40,000,000 rows; the limit is 5,000,000 rows (setting max_rows)")
    assert grown_kib < 200 * 1024  # decoding it took 3.2 GiB; the footer costs nothing like that
    assert_rejection_announced(bus, "", "40,000,000 rows", hashlib.sha256(data).hexdigest())
    assert stored_files(settings) == []


def test_a_csv_with_more_lines_than_max_rows_is_413(tmp_path, bus, frame, spec_dict):
    with signed(TestClient(create_app(IngestSettings(data_dir=tmp_path, max_rows=30), transport=bus))) as client:
        response = post(client, csv_of(frame), spec_dict)  # 40 rows
    assert response.status_code == 413
    assert "40 data lines; the limit is 30 rows (setting max_rows)" in response.json()["errors"][0]["reason"]


def test_non_utf8_bytes_name_the_column_the_line_and_the_fix(client, bus, frame, spec_dict):
    data = csv_of(frame).replace(b"p0006", b"p\xe9006")  # a Latin-1 e-acute in patient_id, on data line 7
    response = post(client, data, spec_dict)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["column"] == "patient_id"
    assert error["reason"].startswith("byte 0xe9 at byte ")
    assert "(line 8) is not UTF-8: save the file as UTF-8" in error["reason"]


def test_a_gzip_body_is_415_saying_what_to_send_instead(client, spec_dict, frame):
    boundary = "conveyorboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"spec\"\r\n\r\n{json.dumps(spec_dict)}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n").encode() \
        + csv_of(frame) + f"\r\n--{boundary}--\r\n".encode()
    response = client.post("/datasets", content=gzip.compress(body), headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Encoding": "gzip",
        **bearer(token_for(client.app, "alice", DATA_SCIENTIST))})
    assert response.status_code == 415
    assert response.json()["detail"].startswith("Content-Encoding 'gzip' is not accepted: send the multipart body "
                                                "uncompressed")


def test_a_body_that_is_not_multipart_is_422_naming_the_fields_to_send(client):
    response = client.post("/datasets", content=b"--x\r\nnot really", headers={
        "Content-Type": "multipart/form-data; boundary=x", **bearer(token_for(client.app, "alice", DATA_SCIENTIST))})
    assert response.status_code == 422, response.text  # was a bare 400 "Invalid multipart data."
    assert "send the fields 'file' and 'spec'" in response.json()["detail"]
