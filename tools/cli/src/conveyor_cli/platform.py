"""Runs the six services as separate local processes, with the console and the SRE's tools beside them, and
stops them again.

Each service is `python -m conveyor_<name>` with CONVEYOR_* settings in its environment; the console is
`python -m conveyor_console` (port 8007), reading the services' URLs from the same variables the CLI reads;
Zipkin and Prometheus come from `observability` (CONVEYOR_OBSERVABILITY=off leaves them out). Pids and logs
live under <state>/run and <state>/log so `conveyor down` finds what `conveyor up` started.

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

from conveyor_kernel import KafkaSettings
from conveyor_kernel.identity import DevIssuer

from . import kafka_accounts, observability

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
CONSOLE_PORT = 8007
# the processes beside the six services, each on its port (+ the platform's offset)
EXTRA_PORTS: dict[str, int] = {"console": CONSOLE_PORT, "zipkin": observability.ZIPKIN_PORT,
                               "prometheus": observability.PROMETHEUS_PORT}
ZIPKIN_ENDPOINT_ENV = "OTEL_EXPORTER_ZIPKIN_ENDPOINT"  # the OpenTelemetry name the kernel reads
HELPER_WAIT_SECONDS = 60.0  # Zipkin must be up before the platform's first request; it starts in ~3 s idle


class PlatformError(RuntimeError):
    pass


@dataclass
class Platform:
    state_dir: Path
    port_offset: int = 0
    env: dict[str, str] = field(default_factory=dict)
    kafka: dict[str, KafkaSettings] = field(default_factory=dict)  # principal -> settings, once provisioned
    console: bool = True  # start the web console beside the services
    observability: bool | None = None  # Zipkin and Prometheus; None: as CONVEYOR_OBSERVABILITY says (default on)

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"

    def port(self, service: str) -> int:
        return {**SERVICES, **EXTRA_PORTS}[service] + self.port_offset

    @property
    def processes(self) -> list[str]:
        """Everything this platform runs, in start order (the tracing UI first: spans from the start)."""
        extras = ["zipkin", "prometheus"] if self.observing else []
        return [*extras, *SERVICES, *(["console"] if self.console else [])]

    @property
    def observing(self) -> bool:
        return self.observability if self.observability is not None else observability.enabled(
            {**os.environ, **self.env})

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
        if self.pid_of("zipkin") is not None:
            env.setdefault(ZIPKIN_ENDPOINT_ENV, f"{self.url('zipkin')}/api/v2/spans")
        return env

    def console_env(self) -> dict[str, str]:
        """The console reads the services where this platform runs them, as the CLI would (CONVEYOR_<NAME>_URL)."""
        env = {**os.environ, **self.env}
        env.setdefault("CONVEYOR_DATA_DIR", str(self.state_dir / "data"))
        env["CONVEYOR_PORT"] = str(self.port("console"))
        for name in [*SERVICES, "zipkin", "prometheus"]:
            env[f"CONVEYOR_{name.upper()}_URL"] = self.url(name)
        if not self.observing:
            env.pop("CONVEYOR_ZIPKIN_URL"), env.pop("CONVEYOR_PROMETHEUS_URL")
        env["CONVEYOR_TELEMETRY__SERVICE_NAME"] = "conveyor-console"  # a browser's upload: the trace starts here
        if self.pid_of("zipkin") is not None:
            env.setdefault(ZIPKIN_ENDPOINT_ENV, f"{self.url('zipkin')}/api/v2/spans")
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
        if self.observing:
            self._start_observability()
        for service in SERVICES:
            self._spawn(service, [sys.executable, "-m", f"conveyor_{service}"], self.service_env(service))
        if self.console:
            self._spawn("console", [sys.executable, "-m", "conveyor_console"], self.console_env())
        try:
            self.wait_ready(timeout)
        except PlatformError:
            self.stop()  # a half-started platform would hold its ports and consumer groups for the next try
            raise
        self._wait_for_zipkin()

    def _start_observability(self) -> None:
        env = {**os.environ, **self.env}
        targets = {name: self.port(name) for name in [*SERVICES, *(["console"] if self.console else [])]}
        helpers = [observability.zipkin(self.port("zipkin"), env),
                   observability.prometheus(self.port("prometheus"), self.state_dir, targets, env)]
        for helper in helpers:
            if helper is not None:
                self._spawn(helper.name, helper.argv, env)

    def _wait_for_zipkin(self) -> None:
        """Zipkin's JVM starts while the services do (waiting for it first cost a start-up its time); the
        platform is ready for the first request once Zipkin takes spans too. Without it, nothing else breaks."""
        if self.pid_of("zipkin") is None:
            return
        try:
            self._wait_for({"zipkin": "/health"}, HELPER_WAIT_SECONDS)
        except PlatformError as exc:
            logger.warning("continuing without traces in Zipkin: %s", exc)
            self._kill("zipkin")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        if self.pid_of(name) is not None:
            logger.info("%s already running", name)
            return
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (self.run_dir / f"{name}.pid").write_text(str(process.pid))

    def wait_ready(self, timeout: float) -> None:
        paths = {service: "/readyz" for service in SERVICES}
        if self.console:
            paths["console"] = "/readyz"
        self._wait_for(paths, timeout)

    def _wait_for(self, paths: dict[str, str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(paths)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    if self.pid_of(name) is None:
                        raise PlatformError(f"{name} exited during start-up; see {self.log_dir}/{name}.log; "
                                            f"it ends with:\n{self.log_tail(name)}")
                    try:
                        if client.get(f"{self.url(name)}{pending[name]}").status_code == 200:
                            del pending[name]
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
        """Stop what runs, the console first and the tracing UI last (the services flush their spans to it)."""
        names = ["console", *reversed(list(SERVICES)), "prometheus", "zipkin"]
        stopped = []
        for name in names:
            pid = self.pid_of(name)
            if pid is not None:
                os.killpg(pid, signal.SIGTERM)
                stopped.append(name)
        deadline = time.monotonic() + grace
        for name in stopped:
            while self.pid_of(name) is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.pid_of(name) is not None:
                logger.warning("%s did not stop within %.0f s; killing it", name, grace)
                self._kill(name)
        for name in names:
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        return stopped

    def _kill(self, name: str) -> None:
        pid = self.pid_of(name)
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)
        (self.run_dir / f"{name}.pid").unlink(missing_ok=True)

    def status(self) -> dict[str, int | None]:
        """The six services, then whichever of the console and the SRE's tools run (or would run)."""
        names = [*SERVICES, *(n for n in EXTRA_PORTS if n in self.processes or self.pid_of(n) is not None)]
        return {name: self.pid_of(name) for name in names}
