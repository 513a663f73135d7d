"""Docker cannot run here, so the compose file is checked by reading it: it must agree with the platform."""

from pathlib import Path

import yaml

from conveyor_cli.platform import SERVICES

ROOT = Path(__file__).resolve().parents[2]


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
    assert (ROOT / services["ingest"]["build"]["context"].replace("..", ".") / "deploy/Dockerfile").exists()
