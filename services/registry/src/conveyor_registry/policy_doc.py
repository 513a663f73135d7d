"""The promotion policy as a versioned document: aliases with their quorums, parameters, and rules (CEL).

A document is checked whole before anyone can publish it (`parse` raises PolicyInvalid naming the field and
the fix), and named by its digest: sha256 of its canonical JSON (keys sorted, no spaces, UTF-8), so the same
policy written in TOML or JSON, in any key order, has one digest, and the ledger's copy can be re-hashed.
"""

import hashlib
import json
import tomllib
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from conveyor_kernel.identity import MANAGER, TECH_LEADER

from .errors import PolicyInvalid

MODES = ("enforce", "warn", "audit")
TIERS = ("low", "medium", "high")
Mode = Literal["enforce", "warn", "audit"]
Tier = Literal["low", "medium", "high"]
NAME = r"^[a-z][a-z0-9_-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Quorum(_Strict):
    approvals: int = Field(ge=0, le=5, description="distinct approvers needed; 0: the policy promotes on its own")
    roles: tuple[Literal["manager", "tech_leader"], ...] = Field(
        default=(), description="each of these roles must be among the approvers")

    @model_validator(mode="after")
    def _reachable(self) -> "Quorum":
        if len(set(self.roles)) > self.approvals:
            raise ValueError(f"roles {list(self.roles)} need at least {len(set(self.roles))} approvals, "
                             f"but approvals is {self.approvals}")
        return self


class AliasPolicy(_Strict):
    quorum: dict[Tier, Quorum]
    expires_after_hours: float = Field(default=168, gt=0, le=24 * 365)

    @field_validator("quorum")
    @classmethod
    def _every_tier(cls, quorum: dict[str, Quorum]) -> dict[str, Quorum]:
        missing = [t for t in TIERS if t not in quorum]
        if missing:
            raise ValueError(f"name the quorum of every risk tier; missing: {', '.join(missing)}")
        return quorum


class Rule(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    expr: str = Field(min_length=1, max_length=4000, description="CEL, true when the gate passes")
    mode: Mode = "enforce"
    aliases: tuple[str, ...] = Field(default=(), description="the aliases it gates; empty: every alias")
    description: str = ""
    pass_message: str = Field(default="", alias="pass", max_length=2000,
                              description="the message when it passes; {cel} placeholders, {cel:.2f} formats")
    fail_message: str = Field(default="", alias="fail", max_length=2000, description="the message when it fails")


class PolicyDocument(_Strict):
    schema_version: Literal[1] = Field(default=1, alias="schema")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    default_risk_tier: Tier = "low"
    params: dict[str, float | int | bool | str] = Field(default_factory=dict)
    aliases: dict[str, AliasPolicy]
    rules: tuple[Rule, ...] = Field(max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> "PolicyDocument":
        if not self.aliases:
            raise ValueError("aliases: name at least one alias the policy governs, e.g. [aliases.production]")
        for alias in self.aliases:
            if alias == "champion":
                raise ValueError("aliases: 'champion' is another name of 'production'; use production")
            if not _name_ok(alias):
                raise ValueError(f"aliases: {alias!r} is not a valid alias name (lowercase letters, digits, - or _)")
        names = [r.name for r in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rules: names must be unique; repeated: {', '.join(twice)}")
        for rule in self.rules:
            unknown = [a for a in rule.aliases if a not in self.aliases]
            if unknown:
                raise ValueError(f"rules.{rule.name}.aliases names {unknown}, which the policy does not govern "
                                 f"(it governs {sorted(self.aliases)})")
        return self

    def rules_for(self, alias: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if not r.aliases or alias in r.aliases)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def _name_ok(name: str) -> bool:
    import re

    return re.match(NAME, name) is not None


def canonical_json(value: Any) -> bytes:
    """The bytes a digest is taken of: sorted keys, no whitespace, UTF-8; NaN and infinities refused."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def digest_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def parse(document: Any) -> PolicyDocument:
    """A checked policy document from its JSON form (a dict), or PolicyInvalid naming what is wrong. The CEL
    in every rule is compiled here too (see gates.compile_policy), so a policy that cannot run is never
    published."""
    from .gates import compile_policy

    try:
        policy = PolicyDocument.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}" for e in exc.errors())
        raise PolicyInvalid(f"the policy document is invalid: {problems}") from exc
    compile_policy(policy)
    return policy


def parse_text(text: str) -> PolicyDocument:
    """A policy from TOML (how people write it) or JSON (how it travels)."""
    try:
        document = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyInvalid(f"the policy file is neither valid TOML nor JSON: {exc}") from exc
    return parse(document)


def default_policy(metric_tolerance: float | None = None, max_fairness_gap: float | None = None) -> PolicyDocument:
    """The shipped default, with the registry's settings for its two parameters when given."""
    document = tomllib.loads(resources.files(__package__).joinpath("default_policy.toml").read_text())
    if metric_tolerance is not None:
        document["params"]["metric_tolerance"] = metric_tolerance
    if max_fairness_gap is not None:
        document["params"]["max_fairness_gap"] = max_fairness_gap
    return parse(document)


APPROVER_ROLES = (MANAGER, TECH_LEADER)
