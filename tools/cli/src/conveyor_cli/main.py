"""The `conveyor` command: run the platform locally, run the demo, inspect it."""

import logging
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from conveyor_kernel import DATA_SCIENTIST, Kind

from .audit_cmd import audit_app, report_app
from .auth_cmd import current_token, login, token
from .governance_cmd import policy_app, promotion_app
from .platform import SERVICES, Platform, PlatformError
from .serving_cmd import serving

app = typer.Typer(help="Conveyor: the event-driven ML lifecycle platform.", no_args_is_help=True)
console = Console()
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")
app.add_typer(policy_app, name="policy")
app.add_typer(promotion_app, name="promotion")
app.command(name="serving")(serving)
app.command(name="login")(login)
app.command(name="token")(token)


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
    for service in SERVICES:
        console.print(f"  {service:<9} {platform.url(service)}  (pid {platform.pid_of(service)})")


@app.command()
def down(state_dir: Path = typer.Option(None)) -> None:
    """Stop every service that `conveyor up` started."""
    stopped = _platform(state_dir).stop()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command()
def status(state_dir: Path = typer.Option(None)) -> None:
    """Show which services run."""
    platform = _platform(state_dir)
    table = Table("service", "url", "pid")
    for service, pid in platform.status().items():
        table.add_row(service, platform.url(service), str(pid or "-"))
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
    urls = {service: platform.url(service) for service in SERVICES}
    # the demo acts as one data scientist: yours (CONVEYOR_TOKEN or `conveyor login`), else "demo"
    token = current_token() or platform.issuer.mint("demo", DATA_SCIENTIST)
    # the true outcomes come from a label feed: a service account, the only caller POST /labels admits
    label_token = platform.issuer.mint(scenario_demo.LABEL_FEED, kind=Kind.SERVICE)
    scenario_demo.run(urls, platform.kafka_settings(), window, token, label_token)


if __name__ == "__main__":
    app()
