"""The Helm chart, rendered and linted offline with helm built from the Go module proxy: every service on
its contract port with its probes and settings, Strimzi/KEDA/HPA when asked, and bad values refused."""

from pathlib import Path

import pytest

from conveyor_cli.platform import SERVICES
from conveyor_kernel import topics

pytestmark = pytest.mark.timeout(900)  # the first use builds helm (about 2 minutes with cold Go caches)

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/conveyor"
PRODUCTION = ROOT / "deploy/helm/values-production.yaml"
GRPC_PORT = 8104
CONSOLE_PORT = 8007
STRIMZI = "kafka.strimzi.io/v1beta2"


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def component(docs: list[dict], kind: str, name: str) -> dict:
    return by_kind(docs, kind)[f"conveyor-{name}"]


def container(docs: list[dict], name: str) -> dict:
    [only] = component(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"]
    return only


def env_of(docs: list[dict], name: str) -> dict[str, dict]:
    return {item["name"]: item for item in container(docs, name)["env"]}


@pytest.fixture(scope="module")
def default(helm) -> list[dict]:
    return helm.render()


@pytest.fixture(scope="module")
def production(helm) -> list[dict]:
    return helm.render("-f", str(PRODUCTION))


@pytest.mark.parametrize("values", [[], ["-f", str(PRODUCTION)], ["--set", "services.console.enabled=true"]],
                         ids=["default", "production", "console"])
def test_helm_lint_passes_strictly(helm, values):
    result = helm("lint", "--strict", str(CHART), *values)
    assert "0 chart(s) failed" in result.stdout, result.stdout


def test_every_rendered_document_is_a_named_kubernetes_object_once(default, production):
    for docs in (default, production):
        keys = [(doc["kind"], doc["metadata"]["name"]) for doc in docs]
        assert len(keys) == len(set(keys))
        for doc in docs:
            assert doc["apiVersion"] and len(doc["metadata"]["name"]) <= 63, doc["metadata"]
            assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "conveyor"


def test_defaults_run_the_six_services_on_an_external_kafka_and_nothing_optional(default):
    kinds = {doc["kind"] for doc in default}
    assert kinds == {"Deployment", "Service", "PersistentVolumeClaim", "ServiceAccount"}
    assert set(by_kind(default, "Deployment")) == {f"conveyor-{name}" for name in SERVICES}
    for name in SERVICES:
        assert env_of(default, name)["CONVEYOR_KAFKA__BOOTSTRAP_SERVERS"]["value"] == "kafka:9092"


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_service_runs_its_module_on_its_port_with_probes_and_settings(default, name):
    port = SERVICES[name]
    spec = container(default, name)
    assert spec["command"] == ["python", "-m", f"conveyor_{name}"]
    assert {"name": "http", "containerPort": port, "protocol": "TCP"} in spec["ports"]
    assert spec["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert spec["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert spec["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    env = env_of(default, name)
    assert env["CONVEYOR_PORT"]["value"] == str(port)
    assert env["CONVEYOR_HOST"]["value"] == "0.0.0.0"
    assert env["CONVEYOR_DATA_DIR"]["value"] == "/data"
    assert {"name": "data", "mountPath": "/data"} in spec["volumeMounts"]
    service = component(default, "Service", name)
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == name
    assert {"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"} in service["spec"]["ports"]


def test_serving_opens_its_grpc_port(default):
    assert {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"} in container(default, "serving")["ports"]
    ports = component(default, "Service", "serving")["spec"]["ports"]
    assert any(p["name"] == "grpc" and p["port"] == GRPC_PORT and p["appProtocol"] == "grpc" for p in ports)
    for name in set(SERVICES) - {"serving"}:
        assert [p["name"] for p in container(default, name)["ports"]] == ["http"]


def test_the_single_writers_never_overlap_during_a_rollout(default):
    for name in ("registry", "audit"):
        deployment = component(default, "Deployment", name)
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_the_console_is_off_by_default_and_runs_on_8007_when_enabled(helm, default):
    assert "conveyor-console" not in by_kind(default, "Deployment")
    docs = helm.render("--set", "services.console.enabled=true")
    spec = container(docs, "console")
    assert spec["command"] == ["python", "-m", "conveyor_console"]
    assert spec["ports"][0]["containerPort"] == CONSOLE_PORT
    assert env_of(docs, "console")["CONVEYOR_PORT"]["value"] == str(CONSOLE_PORT)
    assert component(docs, "Service", "console")["spec"]["ports"][0]["port"] == CONSOLE_PORT


def test_production_runs_kafka_on_strimzi_with_every_kernel_topic(production):
    [kafka] = by_kind(production, "Kafka").values()
    [pool] = by_kind(production, "KafkaNodePool").values()
    cluster = kafka["metadata"]["name"]
    assert kafka["apiVersion"] == pool["apiVersion"] == STRIMZI
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == cluster
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert {"name": "plain", "port": 9092, "type": "internal", "tls": False} in kafka["spec"]["kafka"]["listeners"]
    for name in SERVICES:
        env = env_of(production, name)
        assert env["CONVEYOR_KAFKA__BOOTSTRAP_SERVERS"]["value"] == f"{cluster}-kafka-bootstrap:9092"
        assert env["CONVEYOR_KAFKA__TOPIC_PREFIX"]["value"] == "prod."
    kernel_topics = {value for key, value in vars(topics).items() if key.isupper() and isinstance(value, str)}
    chart_topics = {t["spec"]["topicName"]: t for t in by_kind(production, "KafkaTopic").values()}
    assert set(chart_topics) == {f"prod.{name}" for name in kernel_topics}
    for topic in chart_topics.values():
        assert topic["apiVersion"] == STRIMZI and topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert topic["spec"]["replicas"] == 3
    # docs/topics.md: production keeps what serving replays and what verifiers copy
    assert chart_topics["prod.conveyor.registry"]["spec"]["config"]["retention.ms"] == "-1"
    assert chart_topics["prod.conveyor.audit.checkpoints"]["spec"]["config"]["retention.ms"] == "-1"
    users = by_kind(production, "KafkaUser")
    assert set(users) == {f"conveyor-{name}" for name in SERVICES}
    assert all(u["spec"]["authentication"]["type"] == "scram-sha-512" for u in users.values())


def test_production_scales_consumers_on_lag_and_serving_on_cpu(production):
    scaled = by_kind(production, "ScaledObject")
    assert set(scaled) == {"conveyor-ingest", "conveyor-trainer", "conveyor-monitor"}
    groups = {name: {(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in s["spec"]["triggers"]}
              for name, s in scaled.items()}
    assert groups == {
        "conveyor-ingest": {("prod.ingest", "prod.conveyor.feedback")},
        "conveyor-trainer": {("prod.trainer", "prod.conveyor.datasets"),
                             ("prod.trainer", "prod.conveyor.commands.retrain")},
        "conveyor-monitor": {("prod.monitor", "prod.conveyor.predictions")},
    }
    for name, obj in scaled.items():
        assert obj["spec"]["scaleTargetRef"]["name"] == name
        assert obj["spec"]["minReplicaCount"] >= 1  # the REST API answers even with nothing to consume
        assert all(t["type"] == "kafka" for t in obj["spec"]["triggers"])
        assert "replicas" not in by_kind(production, "Deployment")[name]["spec"]  # the autoscaler owns it
    [hpa] = by_kind(production, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "conveyor-serving"}
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"


def test_production_reads_secrets_for_the_ledger_key_database_and_object_store(production):
    audit = env_of(production, "audit")
    assert audit["CONVEYOR_MODE"]["value"] == "production"
    assert audit["CONVEYOR_SIGNING_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "conveyor-audit-signing-key"
    registry = env_of(production, "registry")
    assert registry["CONVEYOR_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "conveyor-database", "key": "url"}
    for name in SERVICES:
        env = env_of(production, name)
        assert env["CONVEYOR_ARTIFACT_ROOT"]["value"] == "s3://conveyor-artifacts/prod"
        assert env["AWS_ENDPOINT_URL"]["value"].startswith("http://")
        assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "conveyor-object-store"
        # every service that keeps state reads the one database (each in its own schema); serving keeps none
        assert ("CONVEYOR_DATABASE_URL" in env) is (name != "serving")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["strimzi.enabled=true"], "externalKafka.enabled=false"),
        (["externalKafka.enabled=false"], "strimzi.enabled=true"),
        (["externalKafka.bootstrapServers="], "externalKafka.bootstrapServers is empty"),
        (["services.audit.mode=production"], "services.audit.signingKey.existingSecret"),
        (["services.audit.mode=prod"], "/services/audit/mode': value must be one of 'dev', 'production'"),
        (["services.ingest.port=http"], "/services/ingest/port': got string, want integer"),
        (["services.ingets.replicas=2"], "additional properties 'ingets' not allowed"),
        (["services.registry.replicas=2"], "set it to 1"),
        (["services.audit.replicas=3"], "set it to 1"),
        (["services.registry.hpa.enabled=true"], "single writer of its state"),
        (["keda.enabled=true", "services.trainer.hpa.enabled=true"], "turn one off"),
        (["database.url=sqlite:////data/r.db", "database.existingSecret=db"], "keep one"),
        (["services.ingest.env.CONVEYOR_PORT=9000"], "services.<name>.port"),
        (["objectStore.enabled=true"], "objectStore.url is empty"),
    ],
)
def test_bad_values_are_refused_with_the_value_to_change(helm, settings, message):
    args = [arg for setting in settings for arg in ("--set", setting)]
    result = helm("template", "conveyor", str(CHART), *args, check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
