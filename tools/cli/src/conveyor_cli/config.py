"""Where the platform is and who you are: one config file, or the environment, for the CLI, the Python client
and the console.

    # ~/.config/conveyor/config.toml  (or the file CONVEYOR_CONFIG names)
    token = "eyJ..."                       # `conveyor login` writes it here (the file is kept 0600)
    [urls]
    ingest = "http://127.0.0.1:8001"       # trainer, registry, serving, monitor, audit, console,
                                           # zipkin and prometheus likewise

The environment wins over the file: CONVEYOR_TOKEN, and CONVEYOR_<NAME>_URL per service
(CONVEYOR_INGEST_URL, ...). A URL named nowhere is the local platform's default port on 127.0.0.1.
"""

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORTS = {"ingest": 8001, "trainer": 8002, "registry": 8003, "serving": 8004, "monitor": 8005,
                 "audit": 8006, "console": 8007, "zipkin": 9411, "prometheus": 9090}
TOKEN_ENV = "CONVEYOR_TOKEN"
CONFIG_ENV = "CONVEYOR_CONFIG"


def config_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "conveyor" / "config.toml"


def url_env(name: str) -> str:
    return f"CONVEYOR_{name.upper()}_URL"


@dataclass
class ClientConfig:
    urls: dict[str, str]
    token: str | None
    path: Path
    sources: dict[str, str] = field(default_factory=dict)  # key -> "env", "file" or "default": for `config show`

    def url(self, name: str) -> str:
        return self.urls[name]


def load(env: dict[str, str] | None = None) -> ClientConfig:
    env = dict(os.environ) if env is None else env
    path = config_path(env)
    document = read_file(path)
    urls, sources = {}, {}
    file_urls = document.get("urls", {}) if isinstance(document.get("urls"), dict) else {}
    for name, port in DEFAULT_PORTS.items():
        if env.get(url_env(name)):
            urls[name], sources[name] = env[url_env(name)].rstrip("/"), "env"
        elif file_urls.get(name):
            urls[name], sources[name] = str(file_urls[name]).rstrip("/"), "file"
        else:
            urls[name], sources[name] = f"http://127.0.0.1:{port}", "default"
    token = env.get(TOKEN_ENV, "").strip() or None
    sources["token"] = "env" if token else "file"
    if token is None:
        token = str(document.get("token", "")).strip() or None
    if token is None:
        sources["token"] = "none"
    return ClientConfig(urls, token, path, sources)


def read_file(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}; fix or delete it") from exc


def write_file(path: Path, document: dict) -> None:
    """TOML for the two shapes this file has (a token, a table of URLs), kept 0600: it holds a credential."""
    lines = [f"token = {_quoted(document['token'])}"] if document.get("token") else []
    urls = document.get("urls") or {}
    if urls:
        lines += ["", "[urls]"] + [f"{name} = {_quoted(str(url))}" for name, url in sorted(urls.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")


def update(path: Path, *, token: str | None = None, urls: dict[str, str] | None = None) -> None:
    document = read_file(path)
    if token is not None:
        document["token"] = token
    if urls:
        document["urls"] = {**document.get("urls", {}), **urls}
    write_file(path, document)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
