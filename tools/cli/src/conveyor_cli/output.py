"""How every command answers: rich tables for people, `--json` for scripts, the server's message on failure."""

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from .client import ApiError, Conveyor

console = Console()
errors = Console(stderr=True)
JSON = typer.Option(False, "--json", help="print the answer as JSON (for scripts)")


def client() -> Conveyor:
    return Conveyor()


@contextmanager
def calling() -> Iterator[Conveyor]:
    """A client for one command; an ApiError or an unreachable service ends it with the reason, exit code 1."""
    conveyor = client()
    try:
        yield conveyor
    except ApiError as exc:
        errors.print(f"[red]{exc}[/red]")
        for field in exc.errors:  # ingest names a column, the other services (and FastAPI) a field
            where = field.get("field") or field.get("column") or "?"
            errors.print(f"  [red]{where}[/red]: {field.get('reason', field)}")
        raise typer.Exit(1) from exc
    except httpx.TransportError as exc:
        url = exc.request.url if exc.request else "?"
        errors.print(f"[red]cannot reach {url}: {exc}; is the platform up (`conveyor status`)? "
                     "URLs come from the config file or CONVEYOR_<SERVICE>_URL[/red]")
        raise typer.Exit(1) from exc
    except ValueError as exc:  # a bad local file (CSV, config): the message says which and where
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        conveyor.close()


def emit(data: Any, as_json: bool, columns: Sequence[tuple[str, Callable[[dict[str, Any]], Any]]] | None = None,
         title: str | None = None) -> None:
    """A list of records as a table (or one record as key/value rows); JSON as the service sent it."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    if isinstance(data, list):
        table = Table(*(name for name, _ in columns or ()), title=title)
        for row in data:
            table.add_row(*(_cell(get(row)) for _, get in columns or ()))
        console.print(table)
        if not data:
            console.print("[dim](none)[/dim]")
        return
    table = Table("field", "value", title=title, show_header=False)
    for key, value in data.items():
        table.add_row(key, _cell(value))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        return text if len(text) <= 120 else text[:117] + "..."
    return str(value)
