"""Champion swaps under load: every answer comes whole from one version, no request fails."""

import threading

import numpy as np


def test_swaps_under_concurrent_inference_never_mix_versions(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    serving.promote("cancer", 2, models.v2_uri)
    rows = models.X[:8]
    expected = {"1": models.v1.predict_proba(rows).ravel(), "2": models.v2.predict_proba(rows).ravel()}
    assert not np.allclose(expected["1"], expected["2"], atol=1e-3)  # the versions are distinguishable
    swapping = threading.Event()
    swapping.set()
    answers: list[tuple[int, dict]] = []
    failures: list[BaseException] = []

    def hammer() -> None:
        try:
            while swapping.is_set():
                response = serving.infer(rows)
                answers.append((response.status_code, response.json()))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            failures.append(exc)

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        for swap in range(30):
            version = 1 + swap % 2
            uri = models.v1_uri if version == 1 else models.v2_uri
            serving.promote("cancer", version, uri, action="rollback")
    finally:
        swapping.clear()
        for worker in workers:
            worker.join(timeout=60)

    assert failures == []
    assert answers, "the workers answered nothing"
    for status, body in answers:
        assert status == 200, body
        probabilities = body["outputs"][1]["data"]
        np.testing.assert_allclose(probabilities, expected[body["model_version"]], atol=1e-5)
    # both versions really answered while swaps happened (else this test would prove nothing)
    assert {body["model_version"] for _, body in answers} == {"1", "2"}
    assert serving.metric("conveyor_serving_model_swaps_total", model="cancer") == 32
    assert serving.metric("conveyor_serving_requests_in_flight", model="cancer") == 0


def test_a_redelivered_promotion_is_not_announced_as_a_second_deployment(make_serving, models):
    from conveyor.events.v1 import events_pb2 as ev

    with make_serving() as harness:
        harness.promote("cancer", 1, models.v1_uri)
        [record] = [r for r in harness.bus.records if r.topic.endswith("registry")]

        async def redeliver() -> None:
            await harness.dispatcher.dispatch(record)  # the same record again, as after a rebalance

        harness.client.portal.call(redeliver)
        assert len(harness.bus.events(ev.ModelDeployed)) == 1
        harness.promote("cancer", 1, models.v1_uri, action="rollback")  # a new event for the same version
        assert len(harness.bus.events(ev.ModelDeployed)) == 2
