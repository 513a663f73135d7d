import httpx
from fastapi import FastAPI

from conveyor_kernel.callers import AllowedCaller
from conveyor_monitor.drift import FeatureResult, WindowResult
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.wiring import create_app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    # No lifespan here: the app is never started, so nothing touches Kafka.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://monitor",
                             auth=AllowedCaller.of(app))


async def test_drift_report_lists_newest_first_and_404s_unknown_models(tmp_path):
    app = create_app(MonitorSettings(data_dir=tmp_path))
    history = app.state.monitor.history
    result = WindowResult([FeatureResult("x", "ks", 0.001, 0.05, True, 0.4)], 1.0, 0.5, True, None, ["x"])
    history.champion("churn", 3)
    history.record("churn", 3, result, 200, published=True)
    history.record("churn", 3, result, 200, published=False)
    async with client_for(app) as client:
        unknown = await client.get("/models/nope/drift")
        report = (await client.get("/models/churn/drift")).json()
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["detail"]
    assert report["champion_version"] == 3
    assert [e["published"] for e in report["evaluations"]] == [False, True]
    assert report["evaluations"][0]["features"][0] == {
        "feature": "x", "method": "ks", "score": 0.001, "threshold": 0.05, "drifted": True,
        "psi_reference_deciles": 0.4,
    }


async def test_not_ready_until_started(tmp_path):
    app = create_app(MonitorSettings(data_dir=tmp_path))
    async with client_for(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["waiting_for"] == ["kafka producer", "faust app"]
