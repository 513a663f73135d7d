"""Docker cannot run here, so the compose file is checked by reading it: it must agree with the platform
and with the Helm chart (the image-environment test runs its commands and health checks for real)."""

from pathlib import Path

import pytest
import yaml

from conveyor_cli.platform import SERVICES

ROOT = Path(__file__).resolve().parents[2]
GRPC_PORT = 8104
# Where compose and the chart differ by design: the broker's address on each platform, and what one broker can
# hold against what a three-broker cluster should (docs/topics.md: partitions, replicas, retained bytes).
PLATFORM_SPECIFIC = {"CONVEYOR_KAFKA__BOOTSTRAP_SERVERS", "CONVEYOR_KAFKA__PARTITIONS",
                     "CONVEYOR_KAFKA__REPLICATION_FACTOR", "CONVEYOR_KAFKA__PREDICTIONS_RETENTION_BYTES"}


def test_compose_runs_every_service_on_its_port_against_kafka():
    compose = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    for name, port in SERVICES.items():
        spec = services[name]
        assert spec["command"] == ["python", "-m", f"conveyor_{name}"]
        assert spec["environment"]["CONVEYOR_PORT"] == str(port)
        assert spec["environment"]["CONVEYOR_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:19092"
        assert f"127.0.0.1:{port}:{port}" in spec["ports"]
        assert spec["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert f"http://127.0.0.1:{port}/readyz" in " ".join(spec["healthcheck"]["test"])
    assert f"127.0.0.1:{GRPC_PORT}:{GRPC_PORT}" in services["serving"]["ports"]
    assert (ROOT / services["ingest"]["build"]["context"].replace("..", ".") / "deploy/Dockerfile").exists()


@pytest.fixture(scope="module")
def chart(helm) -> dict[str, dict]:
    """The chart's default render: each service's container by service name."""
    docs = helm.render()
    return {
        doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc["spec"]["template"]["spec"]["containers"][0]
        for doc in docs if doc["kind"] == "Deployment"
    }


@pytest.mark.parametrize("name", list(SERVICES))
def test_compose_and_the_chart_run_each_service_alike(compose, chart, name):
    service, container = compose["services"][name], chart[name]
    assert service["command"] == container["command"]
    chart_env = {item["name"]: item.get("value") for item in container["env"]}
    assert set(service["environment"]) == set(chart_env), "compose and the chart set different variables"
    for key, value in service["environment"].items():
        if key not in PLATFORM_SPECIFIC:
            assert chart_env[key] == value, key
    published = {int(p.rsplit(":", 1)[1]) for p in service["ports"]}
    assert published == {p["containerPort"] for p in container["ports"]}
    path = container["readinessProbe"]["httpGet"]["path"]
    assert f":{service['environment']['CONVEYOR_PORT']}{path}'" in " ".join(service["healthcheck"]["test"])
