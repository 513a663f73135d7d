"""`conveyor login` and `conveyor token`: dev-mode tokens from the platform's own issuer, and the one place
every CLI command gets the token it sends.

A command's token is CONVEYOR_TOKEN when set, else the one in the config file (`conveyor login` writes it there:
see config.py), else one an older `conveyor login` left in <state>/cli/token, else none (the service then
answers 401 saying how to get one). In production, tokens come from your OIDC provider: put one in CONVEYOR_TOKEN
or in the config file.
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import typer

from conveyor_kernel.identity import ROLES, DevIssuer, Kind

from . import config

TOKEN_ENV = config.TOKEN_ENV
DEV_TTL_SECONDS = 8 * 3600


def state_dir() -> Path:
    return Path(os.environ.get("CONVEYOR_STATE_DIR", Path.cwd() / "var")).resolve()


def issuer_dir(data_dir: Path | None = None) -> Path:
    """The dev issuer the platform's services read: <data dir>/auth (the data dir `conveyor up` gives them)."""
    root = data_dir or Path(os.environ.get("CONVEYOR_DATA_DIR", state_dir() / "data"))
    return root / "auth"


def token_file() -> Path:
    return state_dir() / "cli" / "token"


def current_token() -> str | None:
    """The token a command sends: CONVEYOR_TOKEN, else the config file's, else an older login's, else None."""
    configured = config.load().token
    if configured:
        return configured
    stored = token_file()
    return stored.read_text().strip() if stored.exists() else None


def auth_headers() -> dict[str, str]:
    token = current_token()
    return {"Authorization": f"Bearer {token}"} if token else {}


def _mint(user: str, role: str | None, kind: str, ttl: int, data_dir: Path | None) -> str:
    if os.environ.get("CONVEYOR_MODE", "dev") == "production":
        raise typer.BadParameter("Conveyor issues tokens in dev mode only; in production get one from your OIDC "
                                 f"provider and put it in {TOKEN_ENV}")
    if role is not None and role not in ROLES:
        raise typer.BadParameter(f"--role {role!r} is not a role; use one of {', '.join(ROLES)}")
    if role is None and kind != Kind.SERVICE:
        raise typer.BadParameter("--role is required for a user (a service account may have none: --kind service)")
    return DevIssuer.ensure(issuer_dir(data_dir)).mint(user, role or "", Kind(kind), ttl=ttl)


USER = typer.Option(..., "--user", help="who the token names (its subject)")
ROLE = typer.Option(None, "--role", help=f"one of {', '.join(ROLES)}")
KIND = typer.Option("user", "--kind", help="user, or service (a service account, e.g. a label feed)")
TTL = typer.Option(DEV_TTL_SECONDS, "--ttl", min=1, help="seconds until the token expires")
DATA_DIR = typer.Option(None, "--data-dir", help="the platform's CONVEYOR_DATA_DIR (default <state>/data)")


def token(user: str = USER, role: str = ROLE, kind: str = KIND, ttl: int = TTL, data_dir: Path = DATA_DIR) -> None:
    """Print a dev-mode bearer token, alone on the last line (for scripts and tests)."""
    typer.echo(_mint(user, role, kind, ttl, data_dir))


def login(user: str = USER, role: str = ROLE, kind: str = KIND, ttl: int = TTL, data_dir: Path = DATA_DIR) -> None:
    """Store a dev-mode token that every later command sends (CONVEYOR_TOKEN, when set, wins)."""
    minted = _mint(user, role, kind, ttl, data_dir)
    path = config.config_path()
    config.update(path, token=minted)
    token_file().unlink(missing_ok=True)  # an older login's token would only confuse
    until = datetime.fromtimestamp(datetime.now(UTC).timestamp() + ttl, UTC).isoformat(timespec="minutes")
    typer.echo(f"logged in as {user} ({role or kind}) until {until}; the token is in {path}")
