"""Regenerates libs/kernel/src/conveyor_kernel/kafka_grants.json from each service's event runtime.

Each service's app is built as its entrypoint builds it (nothing is started), and its runtime's declared
publishes and subscriptions become its Kafka grants. tests/architecture fails when the file is stale.
Usage: .venv/bin/python scripts/gen-kafka-grants.py [--check]
"""

import importlib
import sys
import tempfile
from pathlib import Path

from conveyor_kernel import KafkaSettings
from conveyor_kernel.grants import GRANTS_FILE, KafkaGrants, dump_grants

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())


def runtime_of(service: str, data_dir: Path):
    settings_module = importlib.import_module(f"conveyor_{service}.settings")
    wiring = importlib.import_module(f"conveyor_{service}.wiring")
    settings_cls = next(value for name, value in vars(settings_module).items()
                        if name.endswith("Settings") and getattr(value, "__module__", "") == settings_module.__name__)
    return wiring.create_app(settings_cls(data_dir=data_dir, kafka=KafkaSettings())).state.runtime


def derived() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return dump_grants({s: KafkaGrants.of(runtime_of(s, Path(tmp) / s)) for s in SERVICES})


if __name__ == "__main__":
    text = derived()
    if "--check" in sys.argv:
        sys.exit(0 if GRANTS_FILE.read_text() == text else f"{GRANTS_FILE} is stale: run scripts/gen-kafka-grants.py")
    GRANTS_FILE.write_text(text)
