import httpx
import pytest

from conveyor_kernel.callers import AllowedCaller
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.wiring import create_app


@pytest.fixture
async def client(tmp_path):
    app = create_app(MonitorSettings(data_dir=tmp_path))  # never started: nothing touches Kafka
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://monitor",
                                 auth=AllowedCaller.of(app)) as client:
        yield client


BODY = {
    "reference": {"age": [float(v) for v in range(100)], "clinic": ["north", "south"] * 50},
    "current": {"age": [float(v) + 30 for v in range(60)], "clinic": ["north"] * 60},
    "column_types": {"age": "numeric", "clinic": "categorical"},
}


async def test_report_gives_method_score_threshold_and_verdict_per_column(client):
    response = await client.post("/drift/report", json=BODY)
    assert response.status_code == 200
    body = response.json()
    assert body["columns"]["age"]["method"] == "ks" and body["columns"]["age"]["drifted"]
    assert body["columns"]["clinic"]["method"] == "z" and body["columns"]["clinic"]["threshold"] == 0.05
    assert body["drift_share"] == 1.0 and body["dataset_drifted"]
    named = (await client.post("/drift/report", json=BODY | {"method": "jensenshannon"})).json()
    assert {c["method"] for c in named["columns"].values()} == {"jensenshannon"}
    assert named["columns"]["age"]["threshold"] == 0.1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "energy"}, "method 'energy' is unknown"),
        ({"method": "ks"}, "does not apply to categorical column 'clinic'"),
        ({"current": {"age": [1.0, 2.0], "clinic": ["north"]}}, "current columns have unequal lengths"),
        ({"reference": {"age": [], "clinic": []}}, "reference is empty"),
        ({"current": {"age": [1.0]}}, "current has columns ['age'] but column_types has ['age', 'clinic']"),
        ({"column_types": {"age": "numeric", "clinic": "text"}}, "column_types['clinic'] is 'text'"),
        ({"current": {"age": [1.0, "x"], "clinic": ["a", "b"]}}, "current['age'] holds a non-numeric"),
    ],
)
async def test_bad_input_is_a_400_that_names_the_problem(client, change, message):
    response = await client.post("/drift/report", json=BODY | change)
    assert response.status_code == 400
    assert message in response.json()["detail"]


@pytest.mark.parametrize("token", ["NaN", "Infinity"])
async def test_non_finite_numbers_are_a_400(client, token):
    raw = (f'{{"reference": {{"x": [1.0, {token}, 3.0]}}, "current": {{"x": [1.0, 2.0]}}, '
           '"column_types": {"x": "numeric"}}')
    response = await client.post("/drift/report", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "reference['x'] holds a non-numeric or non-finite value" in response.json()["detail"]


async def test_series_and_labels_before_start(client):
    assert (await client.get("/models/nope/series/drift")).status_code == 404
    assert (await client.get("/models/nope/series/latency")).status_code == 422
    response = await client.post("/labels", json={"labels": [{"request_id": "r1", "row": 0, "label": "1"}]})
    assert response.status_code == 503 and "starting" in response.json()["detail"]
    assert (await client.post("/labels", json={"labels": []})).status_code == 422
