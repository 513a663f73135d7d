"""`conveyor datasets upload|list|show` and `conveyor runs list|show`."""

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from .output import JSON, calling, console, emit

datasets_app = typer.Typer(help="Datasets: upload (training starts on its own), list, show.", no_args_is_help=True)
runs_app = typer.Typer(help="Training runs.", no_args_is_help=True)
PROGRESS_FROM_BYTES = 1024 * 1024  # smaller files go up before a bar could draw


@datasets_app.command("upload")
def upload(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="the CSV or Parquet file"),
    spec: Path = typer.Option(..., "--spec", exists=True, dir_okay=False, help="the DatasetSpec as a JSON file"),
    format: str = typer.Option(None, "--format", help="csv or parquet (default: from the file's extension)"),
    as_json: bool = JSON,
) -> None:
    """Upload a dataset with its spec; a large file shows a progress bar."""
    try:
        spec_document = json.loads(spec.read_text())
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{spec} is not JSON: {exc}", param_hint="--spec") from exc
    size = file.stat().st_size
    with calling() as conveyor:
        if size >= PROGRESS_FROM_BYTES and not as_json:
            with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), console=console, transient=True) as bar:
                task = bar.add_task(f"uploading {file.name}", total=size)
                answer = conveyor.upload_dataset(file, spec_document, format=format,
                                                 progress=lambda sent, _: bar.update(task, completed=sent))
        else:
            answer = conveyor.upload_dataset(file, spec_document, format=format)
    if as_json:
        emit(answer, True)
        return
    state = "already stored" if answer.get("duplicate") else "stored"
    console.print(f"[green]{state}[/green] {answer['name']} v{answer['version']}: {answer['rows']} rows, "
                  f"id {answer['dataset_id']} (training starts on its own)")


@datasets_app.command("list")
def list_datasets(name: str = typer.Option(None, help="only this dataset's versions"),
                  limit: int = typer.Option(100, min=1, max=1000), as_json: bool = JSON) -> None:
    """Datasets, newest first."""
    with calling() as conveyor:
        rows = conveyor.datasets(name=name, limit=limit)
    emit(rows, as_json, [("id", lambda d: d.get("dataset_id", "")[:12]), ("name", lambda d: d.get("name")),
                         ("version", lambda d: d.get("version")), ("rows", lambda d: d.get("rows")),
                         ("owner", lambda d: d.get("owner")), ("consent", lambda d: d.get("consent_basis")),
                         ("received", lambda d: d.get("received_at"))], title="datasets")


@datasets_app.command("show")
def show_dataset(dataset_id: str, as_json: bool = JSON) -> None:
    """One dataset: its spec and profile (only a dataset that passed validation is stored)."""
    with calling() as conveyor:
        emit(conveyor.dataset(dataset_id), as_json, title=f"dataset {dataset_id[:12]}")


@runs_app.command("list")
def list_runs(as_json: bool = JSON) -> None:
    with calling() as conveyor:
        rows = conveyor.runs()
    emit(rows, as_json, [("run", lambda r: r.get("run_id", "")[:12]), ("model", lambda r: r.get("model_name")),
                         ("status", lambda r: r.get("status") or r.get("outcome")),
                         ("trigger", lambda r: r.get("trigger")), ("rows", lambda r: r.get("training_rows")),
                         ("metrics", _metrics), ("finished", lambda r: _when(r.get("finished_at")))], title="runs")


def _metrics(run: dict) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in list((run.get("metrics") or {}).items())[:3])


def _when(epoch: float | None) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S") if epoch else "-"


@runs_app.command("show")
def show_run(run_id: str, as_json: bool = JSON) -> None:
    with calling() as conveyor:
        emit(conveyor.run(run_id), as_json, title=f"run {run_id[:12]}")
