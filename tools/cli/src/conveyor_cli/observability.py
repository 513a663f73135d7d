"""The SRE's side of a local platform: Zipkin (traces) and Prometheus (metrics), beside the services, on loopback.

- Zipkin: the exec jar that deploy/local/zipkin.sh fetched into .cache/zipkin, run with `java -jar`, in-memory
  storage, on 127.0.0.1:9411 (+ the platform's port offset). Every service exports its spans to it
  (OTEL_EXPORTER_ZIPKIN_ENDPOINT).
- Prometheus: Debian's package (`/usr/bin/prometheus`), on 127.0.0.1:9090 (+ offset), scraping every
  service's /metrics and the console's, every 5 s; its data under <state>/prometheus.

CONVEYOR_OBSERVABILITY=off starts neither (tests that do not need them). A missing java, jar or prometheus is
logged and skipped: the platform works without them (the spans still go to the span files).
"""

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

ENV = "CONVEYOR_OBSERVABILITY"
ZIPKIN_PORT = 9411
PROMETHEUS_PORT = 9090
ZIPKIN_VERSION = os.environ.get("CONVEYOR_ZIPKIN_VERSION", "3.6.1")
ROOT = Path(__file__).resolve().parents[4]
SCRAPE_INTERVAL = "5s"


def enabled(env: dict[str, str]) -> bool:
    return env.get(ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def zipkin_jar(env: dict[str, str]) -> Path:
    cache = Path(env.get("CONVEYOR_ZIPKIN_CACHE", ROOT / ".cache" / "zipkin"))
    return Path(env.get("CONVEYOR_ZIPKIN_JAR", cache / f"zipkin-server-{ZIPKIN_VERSION}-exec.jar"))


@dataclass(frozen=True)
class Process:
    """How to start one helper process, and how to tell it is up."""

    name: str
    argv: list[str]
    ready_path: str
    port: int


def zipkin(port: int, env: dict[str, str]) -> Process | None:
    jar, java = zipkin_jar(env), shutil.which("java")
    if java is None or not jar.exists():
        logger.warning("no trace UI: %s (fetch it with deploy/local/zipkin.sh fetch)",
                       "java not found" if java is None else f"{jar} missing")
        return None
    # small heap and C1 only: a trace UI for one machine, not a collector for a fleet
    argv = [java, "-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", str(jar),
            f"--armeria.ports[0].port={port}", "--armeria.ports[0].ip=127.0.0.1",
            "--armeria.ports[0].protocols=http"]
    return Process("zipkin", argv, "/health", port)


def prometheus(port: int, state_dir: Path, targets: dict[str, int], env: dict[str, str]) -> Process | None:
    binary = env.get("CONVEYOR_PROMETHEUS_BIN") or shutil.which("prometheus")
    if binary is None:
        logger.warning("no metrics server: prometheus not found (apt-get install prometheus)")
        return None
    home = state_dir / "prometheus"
    (home / "data").mkdir(parents=True, exist_ok=True)
    config = home / "prometheus.yml"
    config.write_text(scrape_config(targets))
    argv = [binary, f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
            "--storage.tsdb.retention.time=2d", f"--web.listen-address=127.0.0.1:{port}"]
    return Process("prometheus", argv, "/-/ready", port)


def scrape_config(targets: dict[str, int]) -> str:
    """One job per process, so `job` names the service in every query (rate by job, p99 by job)."""
    lines = ["global:", f"  scrape_interval: {SCRAPE_INTERVAL}", f"  evaluation_interval: {SCRAPE_INTERVAL}",
             "scrape_configs:"]
    for name, port in targets.items():
        lines += [f"  - job_name: {name}", "    static_configs:", f"      - targets: ['127.0.0.1:{port}']"]
    return "\n".join(lines) + "\n"
