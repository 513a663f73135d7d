"""The policy's gates, run: each rule's CEL expression and message templates compiled once per policy, then
evaluated over a typed input (`gate_input`).

CEL rather than Rego: it runs in the registry's process (no OPA server to deploy, no network hop in the loop),
it is not Turing-complete (every expression terminates, no loops or I/O), and an expression reads like the
condition a person would write. The engine is `common-expression-language` (Python bindings of the Rust
cel-interpreter), not cel-python: the same CEL documents, but cel-python needed ~3.4 ms of CPU for a 50-rule
policy (p99 over the 5 ms goal even in one combined pass), the bindings ~0.2 ms (bench/policy.py, docs/approvals.md).

All of an alias's expressions are compiled into one CEL list, evaluated in one pass; then only the messages of
the outcome each rule had are rendered, a placeholder that is a plain path (`metric.candidate`) read straight
from the input (what CEL's field selection on a map would give), any other placeholder in one more CEL pass over
just those. When a pass hits an error (a rule reading a metric the version lacks), each part is evaluated on
its own, so one broken rule fails alone, with the error as its message. A rule that cannot be evaluated has
failed: the gates fail closed. Values come back as Python's own (bool, int, float, str, list, dict).
"""

import math
import re
from dataclasses import dataclass
from typing import Any

import cel

from .errors import PolicyInvalid
from .policy import num
from .policy_doc import PolicyDocument, Rule

_FORMAT_SPEC = re.compile(r"^(.*?):([.0-9]*[dfgeE%])$", re.DOTALL)


class _EvalError:
    """A part that raised while evaluating: its result is this, never a value."""

    def __init__(self, exc: Exception) -> None:
        # a missing map key comes back as a bare KeyError('accuracy'): say what it is
        self.reason = f"no such key: {exc.args[0]}" if isinstance(exc, KeyError) and exc.args else str(exc).strip()


@dataclass(frozen=True)
class GateResult:
    rule: str
    mode: str
    passed: bool
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "mode": self.mode, "passed": self.passed, "message": self.message}


@dataclass(frozen=True)
class _Placeholder:
    source: str
    spec: str


@dataclass(frozen=True)
class _CompiledRule:
    rule: Rule
    expr: cel.Program
    pass_parts: tuple[str | _Placeholder, ...]
    fail_parts: tuple[str | _Placeholder, ...]


def split_template(text: str) -> tuple[str | _Placeholder, ...]:
    """'{metric.name} {metric.candidate:.2f} done' -> parts; braces inside CEL strings or maps are kept."""
    parts: list[str | _Placeholder] = []
    literal, i = [], 0
    while i < len(text):
        char = text[i]
        if char != "{":
            literal.append(char)
            i += 1
            continue
        depth, j, quote = 1, i + 1, ""
        while j < len(text) and depth:
            c = text[j]
            if quote:
                if c == "\\":
                    j += 1
                elif c == quote:
                    quote = ""
            elif c in "'\"":
                quote = c
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            j += 1
        if depth:
            raise ValueError(f"unclosed '{{' at character {i}")
        if literal:
            parts.append("".join(literal))
            literal = []
        source = text[i + 1:j - 1]
        found = _FORMAT_SPEC.match(source)
        parts.append(_Placeholder(found.group(1), found.group(2)) if found else _Placeholder(source, ""))
        i = j
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _program(source: str, where: str) -> cel.Program:
    try:
        return cel.compile(source)
    except ValueError as exc:  # the bindings' parse error: its first line says where
        first = str(exc).strip().splitlines()[0].removeprefix(f"Failed to parse expression {source!r}: ")
        raise PolicyInvalid(f"{where}: not valid CEL: {first}") from exc


def _placeholders(parts: tuple[str | _Placeholder, ...]) -> list[_Placeholder]:
    return [p for p in parts if isinstance(p, _Placeholder)]


_PATH = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$")
_MISSING = object()


def _walk(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


class CompiledPolicy:
    """A policy document ready to evaluate; one per published version, kept by digest."""

    def __init__(self, document: PolicyDocument) -> None:
        self.document = document
        self.rules: dict[str, _CompiledRule] = {}
        self._programs: dict[str, cel.Program] = {}  # placeholder source -> its own program (the error path)
        for rule in document.rules:
            where = f"rules.{rule.name}"
            try:
                pass_parts, fail_parts = split_template(rule.pass_message), split_template(rule.fail_message)
            except ValueError as exc:
                raise PolicyInvalid(f"{where}: message template: {exc}") from exc
            for part in (*_placeholders(pass_parts), *_placeholders(fail_parts)):
                self._programs[part.source] = _program(part.source, f"{where} message placeholder {{{part.source}}}")
            self.rules[rule.name] = _CompiledRule(rule, _program(rule.expr, f"{where}.expr"), pass_parts, fail_parts)
        self._by_alias: dict[str, tuple[cel.Program, list[_CompiledRule]]] = {}
        self._together: dict[tuple[str, ...], cel.Program] = {}  # placeholders evaluated in one pass, by their sources

    def _expressions(self, alias: str) -> tuple[cel.Program, list[_CompiledRule]]:
        """One CEL list of the expressions of every rule gating `alias`."""
        if alias not in self._by_alias:
            rules = [self.rules[r.name] for r in self.document.rules_for(alias)]
            program = _program("[" + ", ".join(f"({c.rule.expr})" for c in rules) + "]", f"alias {alias}")
            self._by_alias[alias] = (program, rules)
        return self._by_alias[alias]

    def evaluate(self, alias: str, data: dict[str, Any]) -> tuple[GateResult, ...]:
        program, rules = self._expressions(alias)
        try:
            outcomes = list(program.execute(data))
        except Exception:  # noqa: BLE001 - some rule raised: each alone, so only that one fails (with why)
            outcomes = [self._alone(c.expr, data) for c in rules]
        chosen = [(c, self._parts(c, o)) for c, o in zip(rules, outcomes, strict=True)]
        values = self._placeholder_values([p for _, parts in chosen for p in _placeholders(parts)], data)
        return tuple(self._result(c, o, parts, values) for (c, parts), o in zip(chosen, outcomes, strict=True))

    @staticmethod
    def _alone(program: cel.Program, data: dict[str, Any]) -> Any:
        try:
            return program.execute(data)
        except Exception as exc:  # noqa: BLE001 - the bindings raise KeyError, TypeError, ValueError...: all mean "no value"
            return _EvalError(exc)

    @staticmethod
    def _parts(compiled: _CompiledRule, outcome: Any) -> tuple[str | _Placeholder, ...]:
        if isinstance(outcome, bool):
            return compiled.pass_parts if outcome else compiled.fail_parts
        return ()

    def _placeholder_values(self, wanted: list[_Placeholder], data: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        rest = []
        for part in wanted:
            path = _PATH.match(part.source)
            found = _walk(data, path.group(1)) if path else _MISSING
            if found is _MISSING:
                rest.append(part.source)
            else:
                values[part.source] = found
        sources = tuple(dict.fromkeys(rest))
        if not sources:
            return values
        if sources not in self._together:
            self._together[sources] = _program("[" + ", ".join(f"({s})" for s in sources) + "]", "placeholders")
        try:
            values.update(zip(sources, self._together[sources].execute(data), strict=True))
        except Exception:  # noqa: BLE001 - one placeholder raised: each alone, the broken one shows why
            for source in sources:
                found = self._alone(self._programs[source], data)
                values[source] = f"<{found.reason}>" if isinstance(found, _EvalError) else found
        return values

    @staticmethod
    def _result(compiled: _CompiledRule, outcome: Any, parts: tuple[str | _Placeholder, ...],
                values: dict[str, Any]) -> GateResult:
        rule = compiled.rule
        if isinstance(outcome, _EvalError):
            return GateResult(rule.name, rule.mode, False,
                              f"could not be evaluated ({outcome.reason}): counts as failed")
        if not isinstance(outcome, bool):
            return GateResult(rule.name, rule.mode, False,
                              f"the expression gave {type(outcome).__name__}, not a bool: counts as failed")
        text = "".join(p if isinstance(p, str) else render(values[p.source], p.spec) for p in parts)
        return GateResult(rule.name, rule.mode, bool(outcome), text or rule.description or rule.name)


def render(value: Any, spec: str = "") -> str:
    """A value (CEL's or the input's own) as a reason writes it: numbers as policy.num (or the given format),
    lists joined, strings as they are."""
    if isinstance(value, bool):  # before int: a bool is one
        return "true" if value else "false"
    if isinstance(value, int):
        return format(int(value), spec) if spec else str(int(value))
    if isinstance(value, float):
        number = float(value)
        if not math.isfinite(number):
            return str(number)
        return format(number, spec) if spec else num(number)
    if isinstance(value, list):
        return ", ".join(render(v, spec) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{render(k)}: {render(v, spec)}" for k, v in value.items())
    if value is None:
        return "null"
    return str(value)


def compile_policy(document: PolicyDocument) -> CompiledPolicy:
    return CompiledPolicy(document)


def enforced_pass(results: tuple[GateResult, ...]) -> bool:
    return all(r.passed for r in results if r.mode == "enforce")
