"""The published versions of the promotion policy: the newest is in force. Publishing is a technology
leader's act (the route's access rule, and `publish` checks the role again); each version's digest and
document go to the ledger in PolicyPublished. The registry publishes the shipped default as version 1 when it
finds none, as its own service account, so the ledger names the policy the first promotions ran under."""

import json
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, select

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Principal
from conveyor_kernel.identity import TECH_LEADER, Kind

from . import outbox
from .errors import Conflict, Forbidden, NotFound
from .gates import CompiledPolicy, compile_policy
from .policy_doc import PolicyDocument, canonical_json, digest_of, parse
from .tables import PolicyVersion

POLICY_SUBJECT = "promotion-policy"  # the ledger subject of policy versions


@dataclass
class Policies:
    default: PolicyDocument
    _compiled: dict[str, CompiledPolicy] = field(default_factory=dict, init=False, repr=False)

    def compiled(self, row: PolicyVersion) -> CompiledPolicy:
        if row.digest not in self._compiled:
            self._compiled[row.digest] = compile_policy(parse(row.document))
        return self._compiled[row.digest]

    def in_force(self, session: Session) -> PolicyVersion:
        row = session.exec(select(PolicyVersion).order_by(PolicyVersion.version.desc())).first()  # type: ignore[union-attr]
        return row if row is not None else self._publish(session, self.default, Principal.service("registry"),
                                                          "the shipped default")

    @staticmethod
    def get(session: Session, version: int) -> PolicyVersion:
        row = session.get(PolicyVersion, version)
        if row is None:
            raise NotFound(f"policy version {version} does not exist")
        return row

    def publish(self, session: Session, document: PolicyDocument, publisher: Principal, note: str) -> PolicyVersion:
        if publisher.kind is not Kind.USER or publisher.role != TECH_LEADER:
            raise Forbidden(f"only a technology leader publishes a promotion policy; {publisher.subject} carries "
                            f"{publisher.role or publisher.kind.value}")
        current = self.in_force(session)
        if current.digest == digest_of(document.as_json()):
            raise Conflict(f"this document is policy version {current.version} (digest {current.digest[:12]}), "
                           "already in force")
        return self._publish(session, document, publisher, note)

    def _publish(self, session: Session, document: PolicyDocument, publisher: Principal, note: str) -> PolicyVersion:
        body = document.as_json()
        digest = digest_of(body)
        latest = session.exec(select(func.max(PolicyVersion.version))).one() or 0
        published_by = publisher.subject if publisher.kind is Kind.USER else "registry"
        row = PolicyVersion(version=latest + 1, digest=digest, document=body, published_by=published_by,
                            published_role=publisher.role, note=note)
        staged = outbox.add(session, ev.PolicyPublished(
            policy_version=row.version, digest=digest, document=canonical_json(body).decode(),
            published_by=published_by, note=note, principal=publisher.as_event()), POLICY_SUBJECT)
        row.event_id = staged.event_id
        session.add(row)
        session.flush()
        self._compiled[digest] = compile_policy(document)
        return row


def document_text(row: PolicyVersion) -> str:
    return json.dumps(row.document, indent=2, sort_keys=True)
