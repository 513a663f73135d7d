"""The `conveyor` command: run the platform locally, run the demo, and do everything a person does on it
(datasets, runs, models, promotions, traffic, labels, the ledger, reports), over the client in client.py."""

import logging
import os
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from conveyor_kernel.identity import DATA_SCIENTIST, Kind

from .audit_cmd import audit_app, ledger_app, report_app
from .auth_cmd import current_token, login, token
from .config_cmd import config_app
from .consent_cmd import consent_app
from .datasets_cmd import datasets_app, runs_app
from .governance_cmd import policy_app, served
from .models_cmd import canary_app, labels, models_app, promotion_app, shadow_app
from .platform import Platform, PlatformError
from .serving_cmd import serving
from .tail_cmd import tail

app = typer.Typer(help="Conveyor: the event-driven ML lifecycle platform.", no_args_is_help=True)
console = Console()
# "what served when", with the ledger's inclusion proofs, beside the promotion verbs
promotion_app.command("served")(served)
for group, name in [(datasets_app, "datasets"), (runs_app, "runs"), (models_app, "models"),
                    (promotion_app, "promotion"), (canary_app, "canary"), (shadow_app, "shadow"),
                    (ledger_app, "ledger"), (audit_app, "audit"), (report_app, "report"), (config_app, "config"),
                    (consent_app, "consent"), (policy_app, "policy")]:
    app.add_typer(group, name=name)
# issue 14 spells the group `reports`; `report` is how it was first named (kept: scripts may call it)
app.add_typer(report_app, name="reports", help="Compliance reports: generate, download, verify (= `report`).")
app.command(name="serving")(serving)
app.command(name="login")(login)
app.command(name="token")(token)
app.command(name="labels")(labels)
app.command(name="tail")(tail)


def _version() -> str:
    try:
        return package_version("conveyor-cli")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"conveyor {_version()}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="print the version and exit")) -> None:
    """Conveyor: the event-driven ML lifecycle platform. URLs and the token: `conveyor config show`."""


def _platform(state_dir: Path | None) -> Platform:
    root = state_dir or Path(os.environ.get("CONVEYOR_STATE_DIR", Path.cwd() / "var"))
    return Platform(state_dir=root.resolve())


@app.command()
def up(state_dir: Path = typer.Option(None, help="where data, logs and pids go (default ./var)")) -> None:
    """Start the six services as separate processes (Kafka must be reachable)."""
    platform = _platform(state_dir)
    try:
        platform.start()
    except PlatformError as exc:
        console.print(f"[red]{exc}[/red]")
        platform.stop()
        raise typer.Exit(1) from exc
    _print_urls(platform)


def _print_urls(platform: Platform) -> None:
    where = {"console": "/", "zipkin": "/zipkin/", "prometheus": "/graph"}
    for name, pid in platform.status().items():
        if pid is not None:
            console.print(f"  {name:<10} {platform.url(name)}{where.get(name, '/docs')}  (pid {pid})")


@app.command()
def down(state_dir: Path = typer.Option(None)) -> None:
    """Stop every service that `conveyor up` started."""
    stopped = _platform(state_dir).stop()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command()
def status(state_dir: Path = typer.Option(None)) -> None:
    """Show which services run."""
    platform = _platform(state_dir)
    table = Table("process", "url", "pid")
    for name, pid in platform.status().items():
        table.add_row(name, platform.url(name), str(pid or "-"))
    console.print(table)


@app.command()
def demo(
    state_dir: Path = typer.Option(None),
    window: int = typer.Option(500, help="monitor window, in predictions"),
) -> None:
    """Start the platform and run the lifecycle scenario; the platform keeps running afterwards."""
    from . import demo as scenario_demo

    logging.basicConfig(level=logging.WARNING)
    platform = _platform(state_dir)
    platform.env.setdefault("CONVEYOR_WINDOW_SIZE", str(window))
    console.rule("starting Conveyor")
    try:
        platform.start()
    except PlatformError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    urls = {name: platform.url(name) for name, pid in platform.status().items() if pid is not None}
    # the demo acts as one data scientist: yours (CONVEYOR_TOKEN or `conveyor login`), else "demo"
    token = current_token() or platform.issuer.mint("demo", DATA_SCIENTIST)
    # the true outcomes come from a label feed: a service account, the only caller POST /labels admits
    label_token = platform.issuer.mint(scenario_demo.LABEL_FEED, kind=Kind.SERVICE)
    scenario_demo.run(urls, platform.kafka_settings(), window, token, label_token)


if __name__ == "__main__":
    app()
