"""Canary and shadow, set by the registry's TrafficSplitSet: who answers, what is logged, and rollback."""

from conveyor.events.v1 import events_pb2 as ev
from conveyor.events.v1.predictions import prediction_rows


def _versions(harness, rows, n: int) -> list[str]:
    return [harness.infer(rows).json()["model_version"] for _ in range(n)]


def test_canary_sends_a_weighted_share_to_the_candidate_and_shows_in_metadata(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    serving.split("cancer", "canary", 2, models.v2_uri, weight=0.5)
    rows = models.X[:1]

    answered = _versions(serving, rows, 200)

    assert {"1", "2"} == set(answered)  # P(one side only) = 2 * 0.5**200
    assert 40 < answered.count("2") < 160
    metadata = serving.client.get("/v2/models/cancer").json()
    assert metadata["parameters"]["version"] == "1"  # the champion, never the canary's pick
    assert metadata["parameters"]["traffic"] == {"mode": "canary", "candidate_version": "2", "canary_weight": 0.5}
    assert serving.infer(rows, path="/v2/models/cancer/versions/1/infer").json()["model_version"] == "1"


def test_rollback_clears_the_split_at_once(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    serving.split("cancer", "canary", 2, models.v2_uri, weight=1.0)
    assert set(_versions(serving, models.X[:1], 5)) == {"2"}

    serving.split("cancer", "")

    assert set(_versions(serving, models.X[:1], 20)) == {"1"}
    assert serving.client.get("/v2/models/cancer").json()["parameters"]["traffic"] == {"mode": "none"}


def test_shadow_answers_with_the_champion_and_logs_the_candidate_too(make_serving, models):
    with make_serving(log_flush_interval=3600) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        harness.split("cancer", "shadow", 2, models.v2_uri)
        rows = models.X[:3]

        answer = harness.infer(rows, request_id="s-1").json()

        assert answer["model_version"] == "1"
        assert answer["outputs"][0]["data"] == models.v1.predict(rows).tolist()
        traffic = harness.client.get("/v2/models/cancer").json()["parameters"]["traffic"]
        assert traffic["mode"] == "shadow" and traffic["candidate_version"] == "2"
    logged = {e.version: e for e in harness.bus.events(ev.PredictionsLogged)}
    assert sorted(logged) == [1, 2]
    assert [p.request_id for p in prediction_rows(logged[2])] == ["s-1"] * 3
    assert [int(p.label) for p in prediction_rows(logged[2])] == models.v2.predict(rows).tolist()


def test_a_new_champion_ends_the_split(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    serving.split("cancer", "canary", 2, models.v2_uri, weight=1.0)
    serving.promote("cancer", 3, models.v1_uri)
    assert set(_versions(serving, models.X[:1], 10)) == {"3"}


def test_bad_splits_are_dead_lettered(serving, models):
    serving.split("cancer", "canary", 2, models.v2_uri, weight=0.5)  # no champion yet
    serving.promote("cancer", 1, models.v1_uri)
    serving.split("cancer", "blue-green", 2, models.v2_uri)
    serving.split("cancer", "canary", 2, models.v2_uri, weight=1.5)
    serving.split("cancer", "shadow")
    reasons = serving.dead_letter_reasons()
    assert len(reasons) == 4
    assert "no champion here" in reasons[0]
    assert "mode 'blue-green'" in reasons[1]
    assert "weight 1.5" in reasons[2]
    assert "needs a candidate version and uri" in reasons[3]
    assert set(_versions(serving, models.X[:1], 5)) == {"1"}
