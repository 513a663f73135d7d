"""The image runs every service: each compose command, started from an environment installed the way
deploy/Dockerfile installs (no dev dependencies), answers /healthz and /readyz on the real broker, and
passes its compose health check."""

import socket
import subprocess
import time
import uuid

import httpx
import pytest

from conveyor_cli import kafka_accounts
from conveyor_cli.platform import SERVICES
from conveyor_kernel import KafkaSettings

pytestmark = pytest.mark.integration

START_TIMEOUT = 180.0  # six services importing scikit-learn, ONNX Runtime and faust on two busy cores


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def running(image_env, compose, kafka_bootstrap, tmp_path_factory):
    """Every service started with its compose command from the image environment; yields name -> port."""
    data = tmp_path_factory.mktemp("image-data")
    prefix = f"img{uuid.uuid4().hex[:8]}."
    ports = {name: _free_port() for name in SERVICES}
    # On the local SASL broker each service runs as its own principal, as it would in the image's deployment.
    admin = kafka_accounts.broker_admin(kafka_bootstrap, prefix)
    principals = kafka_accounts.provision(admin, kafka_accounts.every_grant().values()) if admin else {}
    processes = {}
    for name, port in ports.items():
        plain = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=prefix)
        env = {
            **image_env.env,
            "CONVEYOR_HOST": "127.0.0.1",
            "CONVEYOR_PORT": str(port),
            "CONVEYOR_DATA_DIR": str(data),
            **principals.get(name, plain).as_env(),
        }
        log = (data / f"{name}.log").open("wb")
        processes[name] = subprocess.Popen(compose["services"][name]["command"], cwd=image_env.workdir, env=env,
                                           stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(ports, processes, data)
        yield ports
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(ports: dict[str, int], processes: dict[str, subprocess.Popen], data) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    pending = set(ports)
    with httpx.Client(timeout=2.0) as client:
        while pending:
            for name in sorted(pending):
                if processes[name].poll() is not None:
                    tail = (data / f"{name}.log").read_text(errors="replace")[-3000:]
                    pytest.fail(f"{name} exited with {processes[name].returncode} in the image env:\n{tail}")
                try:
                    if client.get(f"http://127.0.0.1:{ports[name]}/readyz").status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                pytest.fail(f"not ready after {START_TIMEOUT:.0f} s in the image env: {sorted(pending)}")
            if pending:
                time.sleep(0.2)


def test_the_image_environment_has_the_services_and_no_dev_dependencies(image_env):
    probe = "import importlib.util as u; print(u.find_spec('conveyor_serving').origin, u.find_spec('pytest'))"
    result = image_env.run(["python", "-c", probe], capture_output=True, text=True, check=True)
    origin, pytest_spec = result.stdout.split()
    assert origin.startswith(str(image_env.workdir)), origin  # the copied sources, not this checkout
    assert pytest_spec == "None"  # --no-dev held: a service needing a dev-only package fails below


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_entrypoint_answers_health_and_readiness_on_the_broker(running, name):
    base = f"http://127.0.0.1:{running[name]}"
    assert httpx.get(f"{base}/healthz").status_code == 200
    assert httpx.get(f"{base}/readyz").status_code == 200


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_compose_health_check_passes_in_the_image_environment(running, image_env, compose, name):
    check = compose["services"][name]["healthcheck"]["test"]
    assert check[0] == "CMD"
    command = [part.replace(f":{SERVICES[name]}/", f":{running[name]}/") for part in check[1:]]
    assert command != check[1:], "the health check does not name the service's own port"
    result = image_env.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    nobody = [part.replace(f":{running[name]}/", f":{_free_port()}/") for part in command]
    assert image_env.run(nobody, capture_output=True, timeout=30).returncode != 0  # it can fail
