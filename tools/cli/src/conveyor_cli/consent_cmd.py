"""`conveyor consent ...`: a privacy officer's verbs on ingest's consent records.

    conveyor consent withdraw SUBJECT_ID [--purpose training]     one subject
    conveyor consent withdraw --file ids.txt [--purpose training]  in bulk: one raw id a line

Raw ids travel in the request body only (ingest answers with the pseudonymous references); a withdrawal
for training flags the model versions that learned from the subjects and retrains them without their rows.
"""

from pathlib import Path

import httpx
import typer
from rich.console import Console

from .auth_cmd import auth_headers

consent_app = typer.Typer(help="Consent records per subject and purpose (ingest).", no_args_is_help=True)
console = Console()
INGEST_URL = "http://127.0.0.1:8001"


def subject_ids(subject_id: str | None, file: Path | None) -> list[str]:
    """The ids named on the command line and in the file (blank lines and '#' comments skipped)."""
    ids = [subject_id] if subject_id else []
    if file is not None:
        try:
            lines = file.read_text().splitlines()
        except OSError as exc:
            raise typer.BadParameter(f"--file {file}: {exc.strerror}") from exc
        ids += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not ids:
        raise typer.BadParameter("name a SUBJECT_ID, or --file with one id a line")
    return ids


@consent_app.command()
def withdraw(
    subject_id: str = typer.Argument(None, help="the subject's id as the dataset's subject id column holds it"),
    purpose: str = typer.Option("training", help="the purpose consent is withdrawn for (training, monitoring, ...)"),
    file: Path = typer.Option(None, help="withdraw in bulk: a file with one subject id a line"),
    source: str = typer.Option("cli", help="how the withdrawal reached you, for the record"),
    url: str = typer.Option(INGEST_URL, envvar="CONVEYOR_INGEST_URL", help="the ingest service"),
) -> None:
    """Withdraw consent (a privacy officer's act). Unknown subjects refuse the whole request, naming them."""
    ids = subject_ids(subject_id, file)
    response = httpx.post(f"{url}/consent/withdraw", json={"subject_ids": ids, "purpose": purpose, "source": source},
                          headers=auth_headers(), timeout=60)
    if response.status_code >= 400:
        console.print(f"[red]{response.status_code}: {response.text}[/red]")
        raise typer.Exit(1)
    body = response.json()
    records = body.get("records", [])
    console.print(f"withdrew {purpose} consent for {len(ids)} subject(s): {len(records)} record(s)")
    for record in records:
        console.print(f"  {record.get('subject_ref', '?')} {record.get('purpose', purpose)} {record.get('state', '')}")
