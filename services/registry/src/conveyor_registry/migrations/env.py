"""Alembic environment for the registry. Runs on the service's own connection when one is given
(start-up, tests), else on the URL in CONVEYOR_REGISTRY_DB (developer CLI use)."""

import os

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from conveyor_registry.tables import RegistryTable

config = context.config
target_metadata = RegistryTable.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = os.environ.get("CONVEYOR_REGISTRY_DB", "")
    if not url:
        raise RuntimeError("set CONVEYOR_REGISTRY_DB to the database URL to run Alembic from the command line")
    return url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)
else:
    with create_engine(_url(), poolclass=pool.NullPool).connect() as own:
        _run(own)
        own.commit()
