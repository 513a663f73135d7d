"""Guards on the shape: services meet only through the kernel and Kafka, and consume what they handle."""

import ast
import re
from pathlib import Path

import pytest

from conveyor_kernel import KafkaSettings, topics

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service):
    others = {f"conveyor_{name}" for name in SERVICES if name != service}
    offenders = {}
    for path in (ROOT / "services" / service).rglob("*.py"):
        reached = _imported_modules(path) & others
        if reached:
            offenders[str(path.relative_to(ROOT))] = sorted(reached)
    assert offenders == {}, "services meet only through Kafka and the kernel"


def test_no_module_outside_the_kernel_applies_a_topic_prefix_by_hand():
    pattern = re.compile(r"topic_prefix\s*\+|\+\s*\w*\.?topic_prefix")
    offenders = []
    for folder in ("services", "tools", "tests", "bench", "libs"):
        for path in (ROOT / folder).rglob("*.py"):
            if "conveyor_kernel" in path.parts and path.name in ("_settings.py", "topics.py"):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == [], "use KafkaSettings.topic()/group(), the one place a prefix is applied"


def _app(service: str, tmp_path: Path):
    """The service's app as its entrypoint builds it, against Kafka settings (nothing is started)."""
    import importlib

    settings_module = importlib.import_module(f"conveyor_{service}.settings")
    wiring = importlib.import_module(f"conveyor_{service}.wiring")
    settings_cls = next(value for name, value in vars(settings_module).items()
                        if name.endswith("Settings") and getattr(value, "__module__", "") == settings_module.__name__)
    settings = settings_cls(data_dir=tmp_path, kafka=KafkaSettings(topic_prefix="guard."))
    return wiring.create_app(settings)


@pytest.mark.parametrize("service", SERVICES)
def test_what_a_service_consumes_is_what_its_handler_table_names(service, tmp_path):
    app = _app(service, tmp_path)
    runtime, handlers = app.state.runtime, app.state.handlers
    derived = topics.subscribed_by(handlers)
    consumed = {topic for loop in runtime.consumers for topic in loop.topics}
    consumed |= {runtime.kafka.topic(t) for t in getattr(app.state, "own_consumer_topics", ())}
    assert consumed == {runtime.kafka.topic(t) for t in derived}, (
        f"{service} subscribes {sorted(consumed)} but its handler table names events of {derived}"
    )
    assert all(cls in topics.TOPIC_OF for cls in handlers), "every handled event type needs a topic"


def test_the_kafka_grants_file_is_derived_from_the_services_runtimes():
    """Each service's Kafka ACLs come from what its runtime declares (publishes, subscriptions): the file the
    platform grants from must be what the services declare now."""
    import importlib.util

    from conveyor_kernel.grants import GRANTS_FILE

    spec = importlib.util.spec_from_file_location("gen_kafka_grants", ROOT / "scripts" / "gen-kafka-grants.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert GRANTS_FILE.read_text() == generator.derived(), "stale: run .venv/bin/python scripts/gen-kafka-grants.py"


def test_every_event_names_who_caused_it():
    for cls in topics.TOPIC_OF:
        field = cls.DESCRIPTOR.fields_by_name.get("principal")
        assert field is not None and field.message_type.full_name == "conveyor.events.v1.Principal", cls
