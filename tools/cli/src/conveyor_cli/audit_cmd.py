"""`conveyor audit ...` (keys and the key-only verifier) and `conveyor report ...` (compliance reports).

The verifier logic lives in conveyor_audit (imported lazily, so the rest of the CLI starts without it);
this module only fetches over HTTP and prints.
"""

import os
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console

from . import config
from .auth_cmd import auth_headers

audit_app = typer.Typer(help="The audit ledger: signing keys and independent verification.", no_args_is_help=True)
ledger_app = typer.Typer(help="The audit ledger: verify it with nothing but its public key.", no_args_is_help=True)
report_app = typer.Typer(help="Compliance reports drawn from the audit ledger.", no_args_is_help=True)
console = Console()
URL = typer.Option(None, help="the audit service (default: the config's urls.audit)")


def _audit_url(url: str | None) -> str:
    return url or config.load().url("audit")


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(1)


def _getter(url: str):
    client = httpx.Client(base_url=url, timeout=30, headers=auth_headers())

    def get(path: str, params: dict[str, Any]) -> Any:
        response = client.get(path, params=params)
        if response.status_code >= 400:
            raise _fail(f"GET {path} -> {response.status_code}: {response.text}")
        return response.json()
    return get


@audit_app.command()
def keygen(name: str = typer.Option("conveyor.local/audit", help="key name = the log's origin")) -> None:
    """Make a new Ed25519 signing key; put the first line in CONVEYOR_SIGNING_KEY, give verifiers the second."""
    from conveyor_audit.note import Signer

    signer = Signer.generate(name)
    typer.echo(signer.skey())
    typer.echo(signer.verifier.vkey())


@audit_app.command("public-key")
def public_key(
    key_file: Path = typer.Option(None, help="file holding the PRIVATE+KEY+... signing key"),
    data_dir: Path = typer.Option(None, help="the audit service's CONVEYOR_DATA_DIR (dev key lives there)"),
) -> None:
    """Print the verifier key (<name>+<key id hex>+<base64 key>) of the ledger's signing key."""
    from conveyor_audit.keys import DEV_KEY_FILE
    from conveyor_audit.note import NoteError, parse_skey

    if key_file is not None:
        text = key_file.read_text()
    elif os.environ.get("CONVEYOR_SIGNING_KEY"):
        text = os.environ["CONVEYOR_SIGNING_KEY"]
    else:
        root = data_dir or Path(os.environ.get("CONVEYOR_DATA_DIR", Path.cwd() / "var" / "data"))
        dev_key = root / "audit" / DEV_KEY_FILE
        if not dev_key.exists():
            raise _fail(f"no signing key: pass --key-file, set CONVEYOR_SIGNING_KEY, or --data-dir ({dev_key} absent)")
        text = dev_key.read_text()
    try:
        typer.echo(parse_skey(text).verifier.vkey())
    except NoteError as exc:
        raise _fail(f"not a signing key: {exc}") from exc


@audit_app.command()
def verify(
    key: str = typer.Option(..., help="the verifier key, or a file holding it; the only thing trusted"),
    url: str = URL,
    checkpoint: Path = typer.Option(None, help="a checkpoint note to verify against (default: the latest)"),
    since: Path = typer.Option(None, help="an older checkpoint you kept: prove the log only appended since"),
    index: list[int] = typer.Option([], help="leaf index whose inclusion to prove (repeatable)"),
    full: bool = typer.Option(False, help="re-read every entry and recompute every hash"),
    save: Path = typer.Option(None, help="write the verified checkpoint here, for a later --since"),
) -> None:
    """Verify the ledger using nothing but a public key: signature, inclusion, consistency, full recompute."""
    from conveyor_audit.note import NoteError, parse_vkey
    from conveyor_audit.verifier import RemoteLog, VerificationFailed

    try:
        verifier = parse_vkey(Path(key).read_text() if Path(key).is_file() else key)
    except NoteError as exc:
        raise _fail(f"--key: {exc}") from exc
    get = _getter(_audit_url(url))
    log = RemoteLog(get, verifier)
    note = checkpoint.read_text() if checkpoint else get("/ledger/checkpoint", {})["note"]
    try:
        latest = log.checkpoint(note)
        console.print(f"[green]ok[/green] checkpoint {latest.origin} size {latest.size} signed by {verifier.name}")
        if since is not None:
            older = log.checkpoint(since.read_text())
            log.consistency(older, latest)
            console.print(f"[green]ok[/green] size {latest.size} extends size {older.size} (consistency proof)")
        for leaf in index:
            entry = log.inclusion(latest, leaf)
            console.print(f"[green]ok[/green] entry {leaf} included (leaf {entry.leaf_hash.hex()[:16]}...)")
        if full:
            console.print(f"[green]ok[/green] all {log.full(latest)} entries recomputed to the signed root")
    except VerificationFailed as exc:
        raise _fail(f"FAILED: {exc}") from exc
    if save is not None:
        save.write_text(note)


@report_app.command()
def monthly(
    month: str = typer.Option(..., help="YYYY-MM"),
    url: str = URL,
    out: Path = typer.Option(Path("."), help="directory for report-<month>.json and .html"),
) -> None:
    """Write the monthly compliance report (JSON + HTML) and record its hash in the ledger."""
    url = _audit_url(url)
    headers = auth_headers()
    response = httpx.get(f"{url}/reports/monthly/{month}", params={"format": "json"}, timeout=60, headers=headers)
    if response.status_code >= 400:
        raise _fail(f"{response.status_code}: {response.text}")
    html = httpx.get(f"{url}/reports/monthly/{month}", params={"format": "html"}, timeout=60, headers=headers)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"report-{month}.json").write_bytes(response.content)
    (out / f"report-{month}.html").write_bytes(html.content)
    body = response.json()
    console.print(f"report {month}: sha256 {body.get('sha256', '?')} -> {out / f'report-{month}.html'}")


@ledger_app.command("verify")
def ledger_verify(
    key: str = typer.Option(None, help="the verifier key (or a file holding it); default: ask the audit service, "
                                       "which proves only that the log matches the key it claims"),
    url: str = URL,
    index: list[int] = typer.Option([], help="leaf index whose inclusion to prove (repeatable)"),
    full: bool = typer.Option(True, "--full/--signature-only", help="recompute every entry to the signed root"),
) -> None:
    """Check the signed checkpoint, inclusion proofs and (by default) every entry, here on your machine."""
    if key is None:
        key = _public_key(_audit_url(url))
        console.print(f"[yellow]trusting the key the service names: {key}[/yellow] (pin it with --key)")
    verify(key=key, url=url, checkpoint=None, since=None, index=index, full=full, save=None)


def _public_key(url: str) -> str:
    response = httpx.get(f"{url}/ledger/public-key", headers=auth_headers(), timeout=30)
    if response.status_code >= 400:
        raise _fail(f"GET /ledger/public-key -> {response.status_code}: {response.text}")
    return response.text.strip()


@report_app.command("generate")
def generate(month: str = typer.Option(..., help="YYYY-MM"), url: str = URL) -> None:
    """Produce the month's report on the audit service (its hash goes into the ledger); print the hash."""
    response = httpx.get(f"{_audit_url(url)}/reports/monthly/{month}", params={"format": "json"}, timeout=120,
                         headers=auth_headers())
    if response.status_code >= 400:
        raise _fail(f"{response.status_code}: {response.text}")
    body = response.json()
    console.print(f"report {month}: {body.get('summary', '')}\n  sha256 {body.get('sha256')}")


@report_app.command("download")
def download(month: str = typer.Option(..., help="YYYY-MM"), url: str = URL,
             out: Path = typer.Option(Path("."), help="directory for report-<month>.json and .html")) -> None:
    """Write the month's report as JSON and HTML into a directory."""
    monthly(month=month, url=url, out=out)


@report_app.command("verify")
def verify_report(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a report-<month>.json"),
                  url: str = URL) -> None:
    """Recompute the report's hash, then find the ReportPublished entry that recorded it in the ledger."""
    import json

    from conveyor_audit.reports import canonical_hash

    report = json.loads(file.read_text())
    digest = canonical_hash(report)
    if digest != report.get("sha256"):
        raise _fail(f"FAILED: the file hashes to {digest}, not the sha256 it states ({report.get('sha256')}): "
                    "it was changed after it was produced")
    console.print(f"[green]ok[/green] {file.name} hashes to its stated sha256 {digest[:16]}...")
    get = _getter(_audit_url(url))
    page = get("/ledger", {"type": "ReportPublished", "limit": 1000})
    match = next((e for e in page["entries"] if (e.get("event") or {}).get("sha256") == digest), None)
    if match is None:
        raise _fail("FAILED: no ReportPublished entry in the ledger records this hash")
    console.print(f"[green]ok[/green] recorded in the ledger at index {match['index']} ({match['time']})")
