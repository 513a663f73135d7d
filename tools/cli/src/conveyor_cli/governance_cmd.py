"""`conveyor policy ...` (test a draft against the recorded decisions, publish, show) and `conveyor promotion
served` (the promotion group's other verbs are models_cmd's): the registry's governance routes over REST, with
your token.

`conveyor promotion served` is the client-side half of "what served when": the registry answers with the
decision and the ids of the ledger entries behind it (it never imports audit); this command finds each entry
in the audit ledger, fetches its inclusion proof, and, given the ledger's public key, verifies each proof
against the signed checkpoint (conveyor_audit.verifier, as `conveyor audit verify` does).
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console

from .auth_cmd import auth_headers

policy_app = typer.Typer(help="The promotion policy: test a draft on the recorded decisions, publish it.",
                         no_args_is_help=True)
console = Console()
REGISTRY = typer.Option("http://127.0.0.1:8003", "--registry", help="the registry's URL")
AUDIT = typer.Option("http://127.0.0.1:8006", "--audit", help="the audit service's URL")


def _call(method: str, url: str, path: str, body: dict[str, Any] | None = None,
          params: dict[str, Any] | None = None) -> Any:
    response = httpx.request(method, f"{url}{path}", json=body, params=params, headers=auth_headers(), timeout=60)
    if response.status_code >= 400:
        console.print(f"[red]{method} {path} -> {response.status_code}: {response.text}[/red]")
        raise typer.Exit(1)
    return response.json()


def _document(file: Path) -> dict[str, Any]:
    """The policy file as JSON, checked locally first so a typo is named before anything is sent."""
    from conveyor_registry.errors import PolicyInvalid
    from conveyor_registry.policy_doc import parse_text

    try:
        return parse_text(file.read_text()).as_json()
    except (OSError, PolicyInvalid) as exc:
        console.print(f"[red]{file}: {exc}[/red]")
        raise typer.Exit(1) from exc


@policy_app.command("test")
def test(file: Path = typer.Argument(..., help="a draft policy, TOML or JSON"), url: str = REGISTRY) -> None:
    """Replay every recorded decision under the draft and print which would flip (nothing is published)."""
    replay = _call("POST", url, "/policy/test", {"document": _document(file)})
    console.print(f"draft {replay['draft_digest'][:12]}: {replay['evaluations']} recorded decision(s), "
                  f"{replay['flips']} would flip")
    for result in replay["results"]:
        if not result["flipped"] and not result["rules"]:
            continue
        verdict = f"{'pass' if result['recorded_passed'] else 'fail'} -> {'pass' if result['draft_passed'] else 'fail'}"
        mark = "FLIP " if result["flipped"] else "     "
        console.print(f"{mark}{result['model_name']} v{result['version']} -> {result['alias']} "
                      f"(request {result['request_id'][:8]}, policy v{result['policy_version']}): {verdict}")
        for rule in result["rules"]:
            console.print(f"       {rule['rule']}: {rule['recorded']} -> {rule['draft']}  {rule['message']}")


@policy_app.command("publish")
def publish(file: Path = typer.Argument(..., help="the policy, TOML or JSON"),
            note: str = typer.Option("", help="what changed, in a sentence"), url: str = REGISTRY) -> None:
    """Publish a new policy version (a technology leader's token); its digest goes to the ledger."""
    row = _call("POST", url, "/policy", {"document": _document(file), "note": note})
    console.print(f"published policy v{row['version']} digest {row['digest']} (ledger event {row['event_id']})")


@policy_app.command("show")
def show(url: str = REGISTRY) -> None:
    """Print the policy in force, as JSON."""
    typer.echo(json.dumps(_call("GET", url, "/policy"), indent=2))


def served(model: str, alias: str = typer.Option("production"),
           at: str = typer.Option(None, help="RFC 3339 time (default: now)"),
           key: str = typer.Option(None, help="the ledger's verifier key (or a file): verify each proof"),
           url: str = REGISTRY, audit: str = AUDIT) -> None:
    """Which version served ALIAS of MODEL at AT, who requested and approved it, under which policy, and the
    ledger entries behind it with their inclusion proofs."""
    when = at or datetime.now(UTC).isoformat()
    answer = _call("GET", url, f"/models/{model}/aliases/{alias}/served", params={"at": when})
    if answer["version"] is None:
        console.print(f"{alias} of {model} pointed at nothing at {when}")
        return
    console.print(f"{alias} of {model} at {when}: v{answer['version']} since {answer['since']} "
                  f"({answer['action']} by {answer['decided_by']}); requested by {answer['requested_by']}, approved "
                  f"by {', '.join(answer['approvers']) or 'the policy alone'}, policy v{answer['policy_version']} "
                  f"({(answer['policy_digest'] or '')[:12]})")
    entries = _ledger_entries(audit, {model, "promotion-policy"}, set(answer["event_ids"]))
    log = checkpoint = None
    if key:
        from conveyor_audit.note import parse_vkey
        from conveyor_audit.verifier import RemoteLog

        log = RemoteLog(lambda path, params: _call("GET", audit, path, params=params),
                        parse_vkey(Path(key).read_text() if Path(key).is_file() else key))
        checkpoint = log.checkpoint()
    for event_id in answer["event_ids"]:
        entry = entries.get(event_id)
        if entry is None:
            console.print(f"   [yellow]{event_id}: not in the ledger yet[/yellow]")
            continue
        proof = _call("GET", audit, f"/ledger/entries/{entry['index']}/proof")
        status = f"proof of {len(proof['audit_path'])} hash(es) to root {proof['root'][:12]} (size {proof['size']})"
        if log is not None and checkpoint is not None and entry["index"] >= checkpoint.size:
            # the ledger signs a checkpoint every N entries or T seconds: this entry is newer than the last one
            status += (f"; [yellow]not yet covered by a signed checkpoint[/yellow] (size {checkpoint.size}): "
                       "run again later")
        elif log is not None and checkpoint is not None:
            log.inclusion(checkpoint, entry["index"])  # raises VerificationFailed, saying why, if it does not hold
            status = f"[green]verified[/green] against the signed checkpoint of size {checkpoint.size}"
        console.print(f"   entry {entry['index']} {entry['type'].rsplit('.', 1)[-1]} {event_id}: {status}")


def _ledger_entries(audit: str, subjects: set[str], wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The ledger entries with these event ids, found by subject (the audit API lists by subject)."""
    found: dict[str, dict[str, Any]] = {}
    for subject in subjects:
        offset = 0
        while wanted - found.keys():
            page = _call("GET", audit, "/ledger", params={"subject": subject, "limit": 1000, "offset": offset})
            found.update({e["event_id"]: e for e in page["entries"] if e["event_id"] in wanted})
            offset += len(page["entries"])
            if not page["entries"] or offset >= page["total"]:
                break
    return found
