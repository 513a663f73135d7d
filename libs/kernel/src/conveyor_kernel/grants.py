"""What each service's Kafka principal may do, derived from its event runtime, and the ACLs that grant it.

A service's principal (`User:<service>`) may
- write (and describe) the topics of the event types it declares it publishes, and the dead-letter topic;
- read (and describe) the topics it subscribes, its handler tables' and its own readers' (`reads=`);
- create the topics it needs (its runtime creates them at start);
- use the consumer groups, and its private topics (faust's changelogs), whose names start with its own.
Nothing else: with `allow.everyone.if.no.acl.found=false`, a record from anyone else is refused by the broker,
so it never reaches a consumer, nor the ledger.

`GRANTS_FILE` holds the grants of every service, generated from the services' runtimes by
`scripts/gen-kafka-grants.py` (tests/architecture fails when it is stale), so a platform can grant them without
importing six services. Names are base names; `acl_bindings` applies a topic prefix.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import topics

if TYPE_CHECKING:
    from ._runtime import EventRuntime

GRANTS_FILE = Path(__file__).with_name("kafka_grants.json")


@dataclass(frozen=True)
class KafkaGrants:
    principal: str
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    creates: tuple[str, ...]

    @classmethod
    def of(cls, runtime: "EventRuntime") -> "KafkaGrants":
        writes = {topics.TOPIC_OF[cls_] for cls_ in runtime.publishes} | {topics.DEAD_LETTER, *runtime.raw_writes}
        return cls(runtime.source, tuple(sorted(writes)), tuple(runtime.subscribed),
                   tuple(runtime.needed_topics()))

    @classmethod
    def reader(cls, principal: str, names: Iterable[str]) -> "KafkaGrants":
        """A client that only watches topics (the CLI's narrator)."""
        names = tuple(sorted(names))
        return cls(principal, (), names, names)

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def load_grants(path: Path = GRANTS_FILE) -> dict[str, KafkaGrants]:
    document = json.loads(path.read_text())
    return {name: KafkaGrants(name, tuple(g["writes"]), tuple(g["reads"]), tuple(g["creates"]))
            for name, g in document.items()}


def dump_grants(grants: Mapping[str, KafkaGrants]) -> str:
    body = {name: {k: v for k, v in g.as_dict().items() if k != "principal"} for name, g in sorted(grants.items())}
    return json.dumps(body, indent=2) + "\n"


@dataclass(frozen=True)
class AclBinding:
    """One ACL, client-neutral: resource type (topic | group), name, pattern (literal | prefixed), operation."""

    resource: str
    name: str
    pattern: str
    operation: str


def acl_bindings(grants: KafkaGrants, prefix: str = "") -> list[AclBinding]:
    """The ACLs that grant `grants` on the topics and groups of one topic prefix."""
    found: list[AclBinding] = []
    for operation, names in (("write", grants.writes), ("read", grants.reads), ("create", grants.creates)):
        for name in names:
            found += [AclBinding("topic", prefix + name, "literal", operation),
                      AclBinding("topic", prefix + name, "literal", "describe")]
    own = prefix + grants.principal
    found += [AclBinding("group", own, "prefixed", "read"), AclBinding("group", own, "prefixed", "describe"),
              AclBinding("topic", own + "-", "prefixed", "all")]
    return list(dict.fromkeys(found))
