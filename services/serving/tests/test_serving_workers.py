"""`conveyor serving` as real processes: N workers on one port, standalone or fed promotions by Kafka.

The zero-downtime test runs 20 deployments under continuous load and requires every request to succeed.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, decode_event
from conveyor_kernel.callers import bearer
from conveyor_kernel.identity import MANAGER, DevIssuer
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics
from conveyor_serving.oip import grpc_predict_v2_pb2 as pb
from conveyor_serving.oip import grpc_predict_v2_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration
CONVEYOR = str(Path(sys.executable).parent / "conveyor")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _conveyor_serving(folder: Path, tmp_path: Path, *args: str, grpc_port: int = 0, **env: str) -> Iterator[str]:
    port = _free_port()
    out = (tmp_path / "serving.log").open("w")
    process = subprocess.Popen(
        [CONVEYOR, "serving", "--model-repository", str(folder), "--port", str(port),
         "--grpc-port", str(grpc_port or _free_port()), *args],
        env={**os.environ, "CONVEYOR_LOG_FLUSH_INTERVAL": "0.1", **env}, stdout=out, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # generous: worker start-up is mostly imports, slow on a busy machine
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert process.poll() is None, (tmp_path / "serving.log").read_text()
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0, (tmp_path / "serving.log").read_text()
        finally:
            if process.poll() is None:
                process.kill()
            out.close()


def _listening_pids(url: str) -> set[int]:
    """Processes holding the port's listening socket."""
    port = url.rsplit(":", 1)[1]
    listening = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    return {int(part.split(",")[0]) for part in listening.split("pid=")[1:]}


def _body(rows) -> dict:
    return {"inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32", "data": rows.tolist()}]}


def test_standalone_workers_serve_the_folder_without_kafka(model_folder, models, tmp_path):
    with _conveyor_serving(model_folder, tmp_path, "--workers", "2", CONVEYOR_KAFKA__BOOTSTRAP_SERVERS="") as url:
        rows = models.X[:5]
        for _ in range(8):  # fresh connections land on either worker; every one must answer the same
            with httpx.Client(base_url=url) as client:
                answer = client.post("/v2/models/cancer/infer", json=_body(rows)).json()
                assert answer["model_version"] == "2"
                assert answer["outputs"][0]["data"] == models.v2.predict(rows).tolist()
        assert len(_listening_pids(url)) == 1 + 2  # the supervisor holds the socket too, and two workers
        assert httpx.post(f"{url}/v1/models/plain:predict",
                          json={"instances": rows.tolist()}).json()["predictions"] == models.v2.predict(rows).tolist()


def test_every_worker_serves_grpc_on_the_shared_port(model_folder, models, tmp_path):
    grpc_port = _free_port()
    with _conveyor_serving(model_folder, tmp_path, "--workers", "2", grpc_port=grpc_port,
                           CONVEYOR_KAFKA__BOOTSTRAP_SERVERS="") as url:
        workers = _listening_pids(url) - {min(_listening_pids(url))}  # the supervisor started first: lowest pid
        deadline = time.monotonic() + 60  # each worker binds gRPC once its models are loaded
        while _listening_pids(f"http://127.0.0.1:{grpc_port}") != workers and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _listening_pids(f"http://127.0.0.1:{grpc_port}") == workers  # one gRPC server per worker
        rows = models.X[:2]
        request = pb.ModelInferRequest(model_name="cancer", raw_input_contents=[rows.tobytes()])
        request.inputs.add(name="input", datatype="FP32", shape=[2, 30])
        for _ in range(8):  # fresh connections: the kernel spreads them over the workers
            with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                response = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request)
                labels = np.frombuffer(response.raw_output_contents[0], "<i8")
                assert labels.tolist() == models.v2.predict(rows).tolist()


async def _publish_all(kafka_settings, events) -> None:
    publisher = KafkaPublisher(kafka_settings, source="registry")
    await publisher.start()
    try:
        for event in events:
            await publisher.publish(event, subject=event.model_name)
    finally:
        await publisher.stop()


async def _deployed(kafka_settings, count: int, bound: float = 40) -> list[ev.ModelDeployed]:
    partition = TopicPartition(kafka_settings.topic(ev.ModelDeployed), 0)
    consumer = AIOKafkaConsumer(**kafka_settings.client_options(), enable_auto_commit=False)
    await consumer.start()
    found: list[ev.ModelDeployed] = []
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        deadline = time.monotonic() + bound
        while len(found) < count and time.monotonic() < deadline:
            for messages in (await consumer.getmany(partition, timeout_ms=200)).values():
                found += [decode_event(Envelope.from_headers(list(m.headers)), m.value) for m in messages]
        return found
    finally:
        await consumer.stop()


def _promotion(models, version: int) -> ev.ModelPromoted:
    uri = models.v1_uri if version % 2 else models.v2_uri
    return ev.ModelPromoted(model_name="cancer", version=version, artifact_uri=uri, action="promote",
                            feature_names=[f"f{i}" for i in range(30)], task=ev.TASK_CLASSIFICATION)


@pytest.mark.timeout(90)
def test_twenty_deployments_under_load_lose_no_request_on_any_worker(kafka_settings, models, tmp_path):
    workers, deployments = 2, 20
    empty = tmp_path / "empty-repo"
    empty.mkdir()
    asyncio.run(ensure_topics(kafka_settings, [ev.ModelPromoted, ev.ModelDeployed, ev.PredictionsLogged]))
    asyncio.run(_publish_all(kafka_settings, [_promotion(models, 1)]))
    env = {**kafka_settings.as_env(), "CONVEYOR_DATA_DIR": str(models.data_dir)}
    with _conveyor_serving(empty, tmp_path, "--workers", str(workers), "--kafka", kafka_settings.bootstrap_servers,
                           **env) as url:
        first = asyncio.run(_deployed(kafka_settings, workers))
        assert len({d.instance for d in first}) == workers  # every worker consumed the promotion itself
        answers: list[tuple[int, str]] = []
        failures: list[BaseException] = []
        loading = threading.Event()
        loading.set()

        def load() -> None:
            body = _body(models.X[:2])
            with httpx.Client(base_url=url, timeout=10) as client:
                while loading.is_set():
                    try:
                        response = client.post("/v2/models/cancer/infer", json=body)
                        answers.append((response.status_code, response.json().get("model_version", "")))
                    except Exception as exc:  # noqa: BLE001 - a lost request is what this test looks for
                        failures.append(exc)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            asyncio.run(_publish_all(kafka_settings, [_promotion(models, v) for v in range(2, deployments + 2)]))
            deployed = asyncio.run(_deployed(kafka_settings, workers * (deployments + 1)))
            before = len(answers)
            deadline = time.monotonic() + 10
            while len(answers) < before + 50 and time.monotonic() < deadline:
                time.sleep(0.01)  # keep the load on after the last swap too
        finally:
            loading.clear()
            for thread in threads:
                thread.join(timeout=30)

        final = str(deployments + 1)
        with httpx.Client(base_url=url) as fresh:
            assert fresh.post("/v2/models/cancer/infer", json=_body(models.X[:1])).json()["model_version"] == final

    assert failures == []
    assert len(answers) > 100
    assert {status for status, _ in answers} == {200}
    assert len(deployed) == workers * (deployments + 1)
    for instance in {d.instance for d in deployed}:
        assert [d.version for d in deployed if d.instance == instance] == list(range(1, deployments + 2))
    assert len({version for _, version in answers}) > 2  # requests really ran across the swaps


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_every_worker_answers_metrics_for_all_workers(model_folder, models, tmp_path):
    with _conveyor_serving(model_folder, tmp_path, "--workers", "2", CONVEYOR_KAFKA__BOOTSTRAP_SERVERS="") as url:
        for _ in range(40):  # fresh connections: the requests spread over both workers
            with httpx.Client(base_url=url) as client:
                assert client.post("/v2/models/cancer/infer", json=_body(models.X[:1])).status_code == 200
        for _ in range(10):  # and so do the scrapes: each one must count every worker's requests
            with httpx.Client(base_url=url) as client:
                text = client.get("/metrics").text
            assert _metric(text, 'conveyor_serving_request_seconds_count{model="cancer"') == 40
            assert _metric(text, "conveyor_serving_requests_in_flight") == 0


def _statuses(url: str, rows, tries: int = 12) -> set[int]:
    """Infer statuses over fresh connections, which land on either worker."""
    seen = set()
    for _ in range(tries):
        with httpx.Client(base_url=url) as client:
            seen.add(client.post("/v2/models/cancer/infer", json=_body(rows)).status_code)
    return seen


def _until(check, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_unload_and_load_reach_every_worker(model_folder, models, tmp_path):
    data = tmp_path / "data"  # the dev token issuer lives here: unload and load are a manager's
    with _conveyor_serving(model_folder, tmp_path, "--workers", "2", CONVEYOR_KAFKA__BOOTSTRAP_SERVERS="",
                           CONVEYOR_DATA_DIR=str(data)) as url:
        manager = bearer(DevIssuer.ensure(data / "auth").mint("ops", MANAGER))
        rows = models.X[:1]
        assert _statuses(url, rows) == {200}
        assert httpx.post(f"{url}/v2/repository/models/cancer/unload", headers=manager).status_code == 200
        assert _until(lambda: _statuses(url, rows) == {404}), "a worker still serves the unloaded model"
        assert httpx.post(f"{url}/v2/repository/models/cancer/load", headers=manager).status_code == 200
        assert _until(lambda: _statuses(url, rows) == {200}), "a worker did not load the model again"
