"""`conveyor config show|set`: the one config file (URLs and the token), and what the environment overrides."""

import typer

from . import config
from .output import JSON, console, emit

config_app = typer.Typer(help="Where the platform is (URLs) and the token: one file, or the environment.",
                         no_args_is_help=True)


@config_app.command("show")
def show(as_json: bool = JSON) -> None:
    """The URLs and token in effect, and where each comes from (env, file, default)."""
    loaded = config.load()
    rows = [{"key": f"urls.{name}", "value": url, "from": loaded.sources[name]} for name, url in loaded.urls.items()]
    token = f"{loaded.token[:12]}..." if loaded.token else None
    rows.append({"key": "token", "value": token, "from": loaded.sources["token"]})
    if as_json:
        emit({"path": str(loaded.path), "urls": loaded.urls, "token_set": loaded.token is not None}, True)
        return
    emit(rows, False, [("key", lambda r: r["key"]), ("value", lambda r: r["value"]), ("from", lambda r: r["from"])],
         title=str(loaded.path))


@config_app.command("set")
def set_value(key: str = typer.Argument(..., help="urls.<service> or token"), value: str = typer.Argument(...)) -> None:
    """Write one value into the config file."""
    path = config.config_path()
    if key == "token":
        config.update(path, token=value)
    elif key.startswith("urls.") and key[5:] in config.DEFAULT_PORTS:
        config.update(path, urls={key[5:]: value.rstrip("/")})
    else:
        raise typer.BadParameter(f"{key!r}: use token or urls.<one of {', '.join(config.DEFAULT_PORTS)}>")
    console.print(f"{key} set in {path}")
