"""Kafka principals for a local platform: SCRAM users and the ACLs that let each one write only what it owns.

The local broker (deploy/local/kafka.sh) runs SASL/SCRAM-SHA-512 with ACLs and one super user, whose
credentials it writes to <broker data>/admin.json when it formats its storage. With them, `provision`
- upserts a SCRAM user per principal (each service, and the CLI's narrator), with a password derived from the
  super user's (HMAC-SHA256 of the principal's name): nothing else to store, every run derives the same one;
- creates the ACLs of `conveyor_kernel.grants` for one topic prefix;
and returns each principal's KafkaSettings. A broker without that file (an external one, or a PLAINTEXT broker
on the configured address) gets nothing: the settings stay as they are.
"""

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from pydantic import SecretStr

from conveyor_kernel import KafkaSettings
from conveyor_kernel.grants import KafkaGrants, acl_bindings, load_grants

logger = logging.getLogger(__name__)

ADMIN_FILE_ENV = "CONVEYOR_KAFKA_ADMIN_FILE"
NARRATOR = "narrator"
_RESOURCES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
_PATTERNS = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}
_OPERATIONS = {"read": AclOperation.READ, "write": AclOperation.WRITE, "create": AclOperation.CREATE,
               "describe": AclOperation.DESCRIBE, "all": AclOperation.ALL}
_SCRAM = {"SCRAM-SHA-512": ScramMechanism.SCRAM_SHA_512, "SCRAM-SHA-256": ScramMechanism.SCRAM_SHA_256}


def admin_file() -> Path:
    """Where kafka.sh writes the super user's credentials (its data dir, as kafka.sh resolves it)."""
    if os.environ.get(ADMIN_FILE_ENV):
        return Path(os.environ[ADMIN_FILE_ENV])
    data = os.environ.get("CONVEYOR_KAFKA_DATA") or str(Path(__file__).resolve().parents[4] / "var" / "kafka")
    return Path(data) / "admin.json"


def broker_admin(bootstrap: str, prefix: str = "", path: Path | None = None) -> KafkaSettings | None:
    """The super user's settings for the local SASL broker at `bootstrap`, or None if that is not it."""
    path = path or admin_file()
    if not path.exists():
        return None
    found = json.loads(path.read_text())
    if found["bootstrap_servers"] != bootstrap:
        return None  # the file is another broker's
    return KafkaSettings(topic_prefix=prefix, **{**found, "sasl_password": SecretStr(found["sasl_password"])})


def kafka_settings(bootstrap: str, prefix: str = "") -> KafkaSettings:
    """Settings for tests and benchmarks: the super user on the local SASL broker, else plain settings."""
    return broker_admin(bootstrap, prefix) or KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)


def password_for(admin: KafkaSettings, principal: str) -> str:
    secret = admin.sasl_password.get_secret_value().encode()
    return hmac.new(secret, f"conveyor-kafka-principal:{principal}".encode(), hashlib.sha256).hexdigest()


def every_grant() -> dict[str, KafkaGrants]:
    """Each service's grants (kernel's generated file) and the narrator's (reads the lifecycle)."""
    from conveyor_kernel import topics

    return {**load_grants(), NARRATOR: KafkaGrants.reader(NARRATOR, topics.LIFECYCLE)}


def provision(admin: KafkaSettings, grants: Iterable[KafkaGrants], timeout: float = 30) -> dict[str, KafkaSettings]:
    """SCRAM users and ACLs for `grants` on `admin.topic_prefix`; returns each principal's settings."""
    grants = list(grants)
    client = AdminClient(admin.librdkafka_options())
    mechanism = _SCRAM[admin.sasl_mechanism]
    upserts = [UserScramCredentialUpsertion(g.principal, ScramCredentialInfo(mechanism, 8192),
                                            password_for(admin, g.principal).encode()) for g in grants]
    _wait(client.alter_user_scram_credentials(upserts, request_timeout=timeout), "SCRAM users")
    bindings = [AclBinding(_RESOURCES[b.resource], b.name, _PATTERNS[b.pattern], f"User:{g.principal}", "*",
                           _OPERATIONS[b.operation], AclPermissionType.ALLOW)
                for g in grants for b in acl_bindings(g, admin.topic_prefix)]
    _wait(client.create_acls(bindings, request_timeout=timeout), "ACLs")
    logger.info("kafka: %d principals, %d ACLs for prefix %r", len(grants), len(bindings), admin.topic_prefix)
    return {g.principal: admin.as_user(g.principal, password_for(admin, g.principal)) for g in grants}


def _wait(futures: dict, what: str) -> None:
    for key, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            raise RuntimeError(f"kafka: could not create {what} ({key}): {exc}") from exc




def principal_settings(bootstrap: str, prefix: str, principal: str) -> KafkaSettings:
    """One principal's settings for `prefix` (created on the local SASL broker), else plain settings."""
    admin = broker_admin(bootstrap, prefix)
    if admin is None:
        return KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)
    return provision(admin, [every_grant()[principal]])[principal]
