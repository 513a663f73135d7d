"""Issue 15, finding 4: every /readyz stayed 200 while Kafka was down. All six services run here on a broker of
the test's own; it is killed (-9, as a lost machine), and each one's readiness turns false naming the broker,
then true again once the broker is back. The shared broker is never touched."""

import asyncio
import time
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from conveyor_kernel.callers import AllowedCaller

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _apps(kafka: Any, data_dir: Any) -> dict[str, Any]:
    from conveyor_audit.settings import AuditSettings
    from conveyor_audit.wiring import create_app as audit
    from conveyor_ingest.settings import IngestSettings
    from conveyor_ingest.wiring import create_app as ingest
    from conveyor_monitor.settings import MonitorSettings
    from conveyor_monitor.wiring import create_app as monitor
    from conveyor_registry.settings import RegistrySettings
    from conveyor_registry.wiring import create_app as registry
    from conveyor_serving.settings import ServingSettings
    from conveyor_serving.wiring import create_app as serving
    from conveyor_trainer.settings import TrainerSettings
    from conveyor_trainer.wiring import create_app as trainer

    return {
        "ingest": ingest(IngestSettings(data_dir=data_dir, kafka=kafka)),
        "trainer": trainer(TrainerSettings(data_dir=data_dir, kafka=kafka)),
        "registry": registry(RegistrySettings(data_dir=data_dir, kafka=kafka)),
        "serving": serving(ServingSettings(data_dir=data_dir, kafka=kafka, grpc_port=0)),
        "monitor": monitor(MonitorSettings(data_dir=data_dir, kafka=kafka)),
        "audit": audit(AuditSettings(data_dir=data_dir, kafka=kafka)),
    }


async def _statuses(clients: dict[str, httpx.AsyncClient]) -> dict[str, int]:
    return {name: (await client.get("/readyz")).status_code for name, client in clients.items()}


async def _until(clients: dict[str, httpx.AsyncClient], status: int, seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while True:
        found = await _statuses(clients)
        if set(found.values()) == {status}:
            return found
        assert time.monotonic() < deadline, f"not all {status} within {seconds} s: {found}"
        await asyncio.sleep(0.2)


async def test_every_readiness_is_false_while_the_broker_is_down(private_broker, private_kafka, tmp_path):
    async with AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}
        for name, app in _apps(private_kafka, tmp_path).items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[name] = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", auth=AllowedCaller.of(app)))
        await _until(clients, 200, 90)

        private_broker.kill()
        try:
            await _until(clients, 503, 20)  # the probe asks every few seconds; a consumer notices on its own
            bodies = {name: (await c.get("/readyz")).json() for name, c in clients.items()}
            for name, body in bodies.items():
                assert any("kafka" in problem.lower() or "broker" in problem.lower()
                           for problem in body["waiting_for"]), (name, body)
        finally:
            private_broker.start()
        await _until(clients, 200, 90)
