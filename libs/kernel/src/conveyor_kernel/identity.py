"""Who acts (see docs/security.md): roles, principals of people and services, tokens and the access table.

Services need only `Principal` and `PrincipalDep` (top level of the kernel) for their routes; this module is for
what decides identity: the role names a token carries, the access table, the dev-mode issuer and the verifier.
"""

from ._access import AccessTable
from ._identity import (
    ADMIN,
    AUDITOR,
    DATA_SCIENTIST,
    MANAGER,
    PRIVACY_OFFICER,
    ROLES,
    TECH_LEADER,
    Kind,
    Principal,
    acting_principal,
)
from ._security import token_verifier
from ._tokens import DevIssuer, TokenRefused, TokenVerifier

__all__ = [
    "ADMIN",
    "AUDITOR",
    "DATA_SCIENTIST",
    "MANAGER",
    "PRIVACY_OFFICER",
    "ROLES",
    "TECH_LEADER",
    "AccessTable",
    "DevIssuer",
    "Kind",
    "Principal",
    "TokenRefused",
    "TokenVerifier",
    "acting_principal",
    "token_verifier",
]
