"""Who acts: the principal behind a request or an event, and the roles a token may carry.

A REST request's principal comes only from its verified bearer token (the access guard sets it); whatever
a service does on its own (a handler reacting to an event, a timer) it does as its own service account.
The publisher stamps every event with the principal acting at the time (`acting_principal()`), so no
service has to remember to, and no caller can type one.
"""

from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from conveyor.events.v1 import events_pb2 as ev

DATA_SCIENTIST, MANAGER, TECH_LEADER, AUDITOR, ADMIN = "data_scientist", "manager", "tech_leader", "auditor", "admin"
# issue 13 (consent and erasure) gives this role its routes; until then it is a known role with none.
PRIVACY_OFFICER = "privacy_officer"
ROLES = (DATA_SCIENTIST, MANAGER, TECH_LEADER, AUDITOR, ADMIN, PRIVACY_OFFICER)


class Kind(StrEnum):
    USER = "user"  # a person, authenticated by the issuer
    SERVICE = "service"  # a service account: a Conveyor service, or an external system (a label feed)


_KINDS = {Kind.USER: ev.PRINCIPAL_KIND_USER, Kind.SERVICE: ev.PRINCIPAL_KIND_SERVICE}


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str  # one of ROLES; empty for a service acting on its own
    kind: Kind = Kind.USER
    issuer: str = ""

    @classmethod
    def service(cls, name: str) -> "Principal":
        """A Conveyor service acting on its own (no token: it is the process itself)."""
        return cls(subject=name, role="", kind=Kind.SERVICE)

    def as_event(self) -> ev.Principal:
        return ev.Principal(subject=self.subject, role=self.role, kind=_KINDS[self.kind], issuer=self.issuer)

    def describe(self) -> str:
        return f"{self.subject} ({self.role or self.kind.value})"


_acting: ContextVar[Principal | None] = ContextVar("conveyor_principal", default=None)


def acting_principal() -> Principal | None:
    """The verified caller of the request being served, None outside a request (handlers, timers)."""
    return _acting.get()
