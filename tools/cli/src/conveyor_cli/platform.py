"""Runs the six services as separate local processes, and stops them again.

Each service is `python -m conveyor_<name>` with CONVEYOR_* settings in its environment; pids and logs live
under <state>/run and <state>/log so `conveyor down` finds what `conveyor up` started.

Before the first service starts: the dev token issuer exists under the data dir (every service reads its
JWKS), and on the local SASL broker each service's Kafka principal and ACLs exist for the topic prefix in
use; each process gets its own principal's credentials (kafka_accounts).
"""

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from conveyor_kernel import DevIssuer, KafkaSettings

from . import kafka_accounts

logger = logging.getLogger(__name__)

SERVICES: dict[str, int] = {
    "ingest": 8001,
    "trainer": 8002,
    "registry": 8003,
    "serving": 8004,
    "monitor": 8005,
    "audit": 8006,
}
GRPC_PORTS: dict[str, int] = {"serving": 8104}  # services that also answer gRPC, shifted by the same offset


class PlatformError(RuntimeError):
    pass


@dataclass
class Platform:
    state_dir: Path
    port_offset: int = 0
    env: dict[str, str] = field(default_factory=dict)
    kafka: dict[str, KafkaSettings] = field(default_factory=dict)  # principal -> settings, once provisioned

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"

    def port(self, service: str) -> int:
        return SERVICES[service] + self.port_offset

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    @property
    def data_dir(self) -> Path:
        return Path({**os.environ, **self.env}.get("CONVEYOR_DATA_DIR", self.state_dir / "data"))

    @property
    def issuer(self) -> DevIssuer:
        """The dev-mode token issuer the services verify against (its keys live in the data dir)."""
        return DevIssuer.ensure(self.data_dir / "auth")

    def kafka_settings(self, principal: str = kafka_accounts.NARRATOR) -> KafkaSettings:
        """How a principal (the narrator, by default) reaches the platform's broker and topics."""
        env = {**os.environ, **self.env}
        plain = KafkaSettings(bootstrap_servers=env.get("CONVEYOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                              topic_prefix=env.get("CONVEYOR_KAFKA__TOPIC_PREFIX", ""))
        return self.kafka.get(principal, plain)

    def provision_kafka(self) -> None:
        """Principals and ACLs on the local SASL broker for this platform's prefix (nothing on another broker)."""
        plain = self.kafka_settings()
        admin = kafka_accounts.broker_admin(plain.bootstrap_servers, plain.topic_prefix)
        if admin is None:
            logger.info("kafka at %s is not the local SASL broker: no principals to create", plain.bootstrap_servers)
            return
        self.kafka = kafka_accounts.provision(admin, kafka_accounts.every_grant().values())

    def service_env(self, service: str) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.setdefault("CONVEYOR_DATA_DIR", str(self.state_dir / "data"))
        if service in self.kafka:
            env.update(self.kafka[service].as_env())
        env["CONVEYOR_PORT"] = str(self.port(service))
        if service in GRPC_PORTS:
            env["CONVEYOR_GRPC_PORT"] = str(GRPC_PORTS[service] + self.port_offset)
        env["CONVEYOR_TELEMETRY__SERVICE_NAME"] = f"conveyor-{service}"
        env.setdefault("CONVEYOR_TELEMETRY__SPAN_FILE", str(self.state_dir / "spans" / f"{service}.jsonl"))
        env["CONVEYOR_TELEMETRY__SPAN_FILE"] = str(Path(env["CONVEYOR_TELEMETRY__SPAN_FILE"]).parent
                                                   / f"{service}.jsonl")
        env.setdefault("OTEL_SERVICE_NAME", f"conveyor-{service}")
        return env

    def pid_of(self, service: str) -> int | None:
        try:
            pid = int((self.run_dir / f"{service}.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return None  # our own child, exited: reaped just now
        except ChildProcessError:
            pass  # not our child (started by an earlier `conveyor up`)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def start(self, timeout: float = 90.0) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.issuer  # noqa: B018 - created once here, before six processes would race to create it
        self.provision_kafka()
        for service in SERVICES:
            if self.pid_of(service) is not None:
                logger.info("%s already running", service)
                continue
            log = (self.log_dir / f"{service}.log").open("ab")
            process = subprocess.Popen(
                [sys.executable, "-m", f"conveyor_{service}"],
                env=self.service_env(service),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            (self.run_dir / f"{service}.pid").write_text(str(process.pid))
        try:
            self.wait_ready(timeout)
        except PlatformError:
            self.stop()  # a half-started platform would hold its ports and consumer groups for the next try
            raise

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(SERVICES)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for service in sorted(pending):
                    if self.pid_of(service) is None:
                        raise PlatformError(f"{service} exited during start-up; see {self.log_dir}/{service}.log; "
                                            f"it ends with:\n{self.log_tail(service)}")
                    try:
                        if client.get(f"{self.url(service)}/readyz").status_code == 200:
                            pending.discard(service)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise PlatformError(f"not ready after {timeout:.0f} s: {', '.join(sorted(pending))}")
                if pending:
                    time.sleep(0.2)

    def log_tail(self, service: str, lines: int = 12) -> str:
        """The last lines of a service's log: why it stopped, for an error that outlives a temporary state dir."""
        log = self.log_dir / f"{service}.log"
        if not log.exists():
            return "(no log)"
        text = log.read_text(errors="replace").splitlines()
        errors = [i for i, line in enumerate(text) if " ERROR " in line or line.startswith(("Traceback", "ERROR:"))]
        start = errors[0] if errors else max(len(text) - lines, 0)  # the first error says why; the rest follows
        return "\n".join(text[start:start + lines])

    def stop(self, grace: float = 15.0) -> list[str]:
        stopped = []
        for service in reversed(list(SERVICES)):
            pid = self.pid_of(service)
            if pid is not None:
                os.killpg(pid, signal.SIGTERM)
                stopped.append(service)
        deadline = time.monotonic() + grace
        for service in stopped:
            while self.pid_of(service) is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            pid = self.pid_of(service)
            if pid is not None:
                logger.warning("%s did not stop within %.0f s; killing it", service, grace)
                os.killpg(pid, signal.SIGKILL)
        for service in SERVICES:
            (self.run_dir / f"{service}.pid").unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, int | None]:
        return {service: self.pid_of(service) for service in SERVICES}
