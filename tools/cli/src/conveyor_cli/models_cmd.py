"""`conveyor models ...`, `conveyor promotion ...`, `conveyor canary|shadow set|clear`, `conveyor labels`."""

from pathlib import Path

import typer

from .client import labels_from_csv
from .output import JSON, calling, console, emit

models_app = typer.Typer(help="Registered models, their versions and the decisions about them.", no_args_is_help=True)
promotion_app = typer.Typer(help="Promotion requests, approvals, rollback.", no_args_is_help=True)
canary_app = typer.Typer(help="A canary: a share of live traffic answered by a candidate version.",
                         no_args_is_help=True)
shadow_app = typer.Typer(help="A shadow: a candidate answers a copy of live traffic; clients see the champion.",
                         no_args_is_help=True)
REASON = typer.Option(..., "--reason", help="why, in a sentence (it goes into the audit trail)")


@models_app.command("list")
def list_models(as_json: bool = JSON) -> None:
    with calling() as conveyor:
        rows = conveyor.models()
    emit(rows, as_json, [("model", lambda m: m["name"]), ("task", lambda m: m.get("task")),
                         ("champion", lambda m: m.get("champion_version")),
                         ("latest", lambda m: m.get("latest_version")), ("created", lambda m: m.get("created_at"))],
         title="models")


@models_app.command("show")
def show_model(name: str, as_json: bool = JSON) -> None:
    with calling() as conveyor:
        emit(conveyor.model(name), as_json, title=name)


@models_app.command("versions")
def versions(name: str, as_json: bool = JSON) -> None:
    """Every version with its stage, primary metric and worst fairness gap."""
    with calling() as conveyor:
        rows = conveyor.versions(name)
    emit(rows, as_json, [("version", lambda v: v["version"]), ("stage", lambda v: v.get("stage")),
                         ("metric", lambda v: f"{v.get('primary_metric')} "
                                              f"{v.get('metrics', {}).get(v.get('primary_metric'), float('nan')):.4f}"),
                         ("fairness gap", lambda v: _worst_gap(v.get("fairness", []))),
                         ("trigger", lambda v: v.get("trigger")), ("created", lambda v: v.get("created_at"))],
         title=f"{name}: versions")


@models_app.command("decisions")
def decisions(name: str, as_json: bool = JSON) -> None:
    """Promotions, declines and rollbacks, with who decided and why."""
    with calling() as conveyor:
        rows = conveyor.decisions(name)
    emit(rows, as_json, [("version", lambda d: d.get("version")), ("action", lambda d: d.get("action")),
                         ("by", lambda d: d.get("decided_by")), ("reasons", lambda d: "; ".join(d.get("reasons", []))),
                         ("at", lambda d: d.get("at"))], title=f"{name}: decisions")


def _worst_gap(fairness: list[dict]) -> str:
    gaps = [value for entry in fairness for key, value in entry.items()
            if isinstance(value, int | float) and "difference" in key]
    return f"{max(gaps):.3f}" if gaps else "-"


@promotion_app.command("request")
def request(name: str, version: int, reason: str = REASON,
            alias: str = typer.Option("production", help='the alias to move ("production" is what serves)'),
            as_json: bool = JSON) -> None:
    """Ask for a version to be promoted; the policy's gates run and a manager decides."""
    with calling() as conveyor:
        answer = conveyor.request_promotion(name, version, reason, alias)
    emit(answer, as_json, title=f"promotion request {answer.get('id', '')}")


@promotion_app.command("list")
def list_requests(name: str = typer.Argument(None, help="one model (default: every model)"),
                  state: str = typer.Option(None, help="pending, approved, rejected, expired"),
                  as_json: bool = JSON) -> None:
    with calling() as conveyor:
        rows = conveyor.promotion_requests(name, state) if name else conveyor.every_promotion_request(state)
    emit(rows, as_json, [("id", lambda r: r.get("id")), ("model", lambda r: r.get("model_name")),
                         ("version", lambda r: r.get("version")), ("alias", lambda r: r.get("alias")),
                         ("state", lambda r: r.get("state")), ("by", lambda r: r.get("requested_by")),
                         ("quorum", lambda r: r.get("quorum"))], title="promotion requests")


@promotion_app.command("approve")
def approve(name: str, request_id: str, comment: str = typer.Option(..., "--comment", help="what you checked"),
            as_json: bool = JSON) -> None:
    with calling() as conveyor:
        emit(conveyor.approve(name, request_id, comment), as_json, title=f"approved {request_id}")


@promotion_app.command("reject")
def reject(name: str, request_id: str, reason: str = typer.Option(..., "--reason", help="why not, in a sentence"),
           as_json: bool = JSON) -> None:
    with calling() as conveyor:
        emit(conveyor.reject(name, request_id, reason), as_json, title=f"rejected {request_id}")


@promotion_app.command("rollback")
def rollback(name: str, reason: str = REASON, as_json: bool = JSON) -> None:
    """Make the previous champion serve again."""
    with calling() as conveyor:
        answer = conveyor.rollback(name, reason)
    _decided(answer, as_json)


def _decided(answer: dict, as_json: bool) -> None:
    if as_json:
        emit(answer, True)
    else:
        console.print(f"[green]{answer.get('action')}[/green] {answer.get('model_name')} "
                      f"v{answer.get('version')} by {answer.get('decided_by')}")


@canary_app.command("set")
def canary_set(name: str, version: int = typer.Option(..., "--version"),
               weight: float = typer.Option(0.1, "--weight", min=0.0, max=1.0), reason: str = REASON,
               as_json: bool = JSON) -> None:
    with calling() as conveyor:
        emit(conveyor.canary(name, version, weight, reason), as_json, title=f"{name}: canary")


@canary_app.command("clear")
def canary_clear(name: str, reason: str = REASON, as_json: bool = JSON) -> None:
    with calling() as conveyor:
        emit(conveyor.clear_traffic(name, reason), as_json, title=f"{name}: champion only")


@shadow_app.command("set")
def shadow_set(name: str, version: int = typer.Option(..., "--version"), reason: str = REASON,
               as_json: bool = JSON) -> None:
    with calling() as conveyor:
        emit(conveyor.shadow(name, version, reason), as_json, title=f"{name}: shadow")


@shadow_app.command("clear")
def shadow_clear(name: str, reason: str = REASON, as_json: bool = JSON) -> None:
    with calling() as conveyor:
        emit(conveyor.clear_traffic(name, reason), as_json, title=f"{name}: champion only")


def labels(csv_file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                           help="columns request_id, label[, row]"),
           as_json: bool = JSON) -> None:
    """Post late labels from a CSV (a service account's token: the systems that learn the truth post it)."""
    with calling() as conveyor:
        rows = labels_from_csv(csv_file)
        answers = conveyor.post_labels(rows)
    if as_json:
        emit(answers, True)
    else:
        console.print(f"[green]posted[/green] {len(rows)} labels in {len(answers)} request(s)")
