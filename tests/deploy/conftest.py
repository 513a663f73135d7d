"""The image's environment without Docker: deploy/Dockerfile's instructions replayed into a folder.

There is no Docker engine here, so the test builds what the image would hold by doing what each
instruction says, on this machine: the same files copied into the WORKDIR, the same `uv sync` command with
the same uv version, the same ENV. An instruction this replay does not know fails the test loudly, so a
change to the Dockerfile cannot slip past it.
"""

import logging
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

logger = logging.getLogger(__name__)


class UnknownInstruction(AssertionError):
    pass


@dataclass(frozen=True)
class ImageEnv:
    root: Path  # stands for the image's "/"
    workdir: Path
    env: dict[str, str]

    def run(self, command: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=self.workdir, env=self.env, **kwargs)


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            steps.append((word.upper(), rest.strip()))
    return steps


def clean_environment() -> dict[str, str]:
    """This machine's environment minus what would point uv or Python at the checkout's own .venv
    (`make test` exports UV_PROJECT_ENVIRONMENT, which would make `uv sync` rewrite the dev venv)."""
    drop = {"UV_PROJECT_ENVIRONMENT", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PYTHON"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def replay(dockerfile: Path, context: Path, root: Path, uv: Path) -> ImageEnv:
    """Build the image's environment under `root` (the image's "/") from `context`, with `uv` (which must
    be the version the Dockerfile installs)."""
    env = clean_environment()
    env["UV_PYTHON_DOWNLOADS"] = "never"
    workdir = root
    image_workdir = "/"
    for word, args in instructions(dockerfile):
        if word == "FROM":
            match = re.fullmatch(r"python:(\d+\.\d+)(-\S+)?", args)
            if not match:
                raise UnknownInstruction(f"FROM {args}: the replay knows only the python:X.Y images")
            env["UV_PYTHON"] = match.group(1)  # uv then uses this machine's CPython of that version
        elif word == "WORKDIR":
            image_workdir = args
            workdir = root / args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            *sources, dest = shlex.split(args)
            target = workdir / dest
            for source in sources:
                path = context / source
                into = target / path.name if dest.endswith("/") else target
                if path.is_dir():
                    shutil.copytree(path, into, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    into.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, into)
        elif word == "RUN":
            for command in (c.strip() for c in args.split("&&")):
                _run(command, workdir, env, uv)
        elif word == "ENV":
            key, _, value = args.partition("=")
            value = value.replace(image_workdir, str(workdir)).replace(f"${key}", env.get(key, ""))
            env[key] = value
        else:
            raise UnknownInstruction(f"{word} {args}: teach tests/deploy/conftest.py to replay it")
    return ImageEnv(root=root, workdir=workdir, env=env)


def _run(command: str, workdir: Path, env: dict[str, str], uv: Path) -> None:
    argv = shlex.split(command)
    if argv[:2] == ["pip", "install"] and any(a.startswith("uv==") for a in argv):
        wanted = next(a for a in argv if a.startswith("uv=="))[4:]
        have = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
        if have != wanted:
            raise UnknownInstruction(f"the Dockerfile installs uv {wanted} but {uv} is {have}: keep the "
                                     "Makefile's UV_VERSION and the Dockerfile's pin the same")
    elif argv[0] == "uv":
        subprocess.run([str(uv), *argv[1:]], cwd=workdir, env=env, check=True, capture_output=True, timeout=600)
    elif argv == ["rm", "-rf", "/root/.cache"]:
        pass  # the image drops uv's download cache to stay small; here that cache is the machine's own
    else:
        raise UnknownInstruction(f"RUN {command}: teach tests/deploy/conftest.py to replay it")


# ---- fixtures -------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy/compose.yaml"
UV = ROOT / ".cache/bootstrap/bin/uv"  # the Makefile's pinned uv (`make venv` bootstraps it)


@pytest.fixture(scope="session")
def image_env(tmp_path_factory) -> ImageEnv:
    """A fresh environment installed the way the image installs, once per session (about 5 s: uv links the
    wheels `make venv` already cached; nothing is downloaded)."""
    if not UV.exists():
        pytest.fail(f"{UV} is missing: run `make venv` (it bootstraps the uv the Dockerfile pins)")
    started = time.monotonic()
    env = replay(ROOT / "deploy/Dockerfile", ROOT, tmp_path_factory.mktemp("image"), UV)
    logger.info("image environment built in %.1f s under %s", time.monotonic() - started, env.root)
    return env


@pytest.fixture(scope="session")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


HELM = ROOT / "deploy/helm/helm.sh"
CHART = ROOT / "deploy/helm/conveyor"


class Helm:
    """deploy/helm/helm.sh, which builds helm from the Go module proxy into .cache/helm on first use."""

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=900)
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
        return result

    def render(self, *args: str) -> list[dict]:
        """`helm template` of the chart: every document, parsed."""
        out = self("template", "conveyor", str(CHART), *args).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="session")
def helm() -> Helm:
    if shutil.which("go") is None and not any((ROOT / ".cache/helm").glob("*/bin/helm")):
        pytest.fail("rendering the chart needs helm, built from the Go module proxy: install Go")
    started = time.monotonic()
    Helm()("version")  # builds it on first use: ~2 min with cold Go caches, ~15 s warm, 0 once built
    logger.info("helm ready in %.1f s", time.monotonic() - started)
    return Helm()
