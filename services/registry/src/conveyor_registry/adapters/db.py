"""The database edge: one engine per process (the kernel's: SQLite tuned for a service, or PostgreSQL in the
schema `registry`), schema owned by Alembic. The migrations run on both."""

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from conveyor_kernel.database import make_engine as kernel_engine

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def make_engine(url: str | URL) -> Engine:
    """An engine for a SQLite file or PostgreSQL (tables in the `registry` schema): see conveyor_kernel.database."""
    return kernel_engine(url, schema="registry")


def alembic_config() -> Config:
    """The packaged alembic.ini, with script_location pinned so it works from any working directory."""
    config = Config(str(PACKAGE_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    config = alembic_config()
    with engine.begin() as connection:
        # Handing Alembic our connection (instead of a URL in the ini) keeps the same pragmas and
        # avoids configparser mangling '%' in passwords.
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    logger.info("database schema at head (%s)", engine.url.render_as_string(hide_password=True))


class Database:
    """The registry's database as a component: migrated before anything reads or consumes (handlers need
    the tables), disposed last."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._migrated = False

    async def start(self) -> None:
        migrate(self.engine)
        self._migrated = True

    async def stop(self) -> None:
        self.engine.dispose()
        self._migrated = False

    def problems(self) -> list[str]:
        return [] if self._migrated else ["database schema"]
