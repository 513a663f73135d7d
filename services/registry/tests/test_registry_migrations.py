"""Alembic owns the schema: head on an empty file builds exactly the models' tables, and is repeatable."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from conveyor_registry.adapters.db import make_engine, migrate
from conveyor_registry.tables import ModelVersion, RegisteredModel, RegistryTable


@pytest.fixture
def empty_engine(backend, tmp_path):
    """An empty database: a SQLite file, or the test's own PostgreSQL database (schema `registry`)."""
    engine = make_engine(backend.database_url or f"sqlite:///{tmp_path / 'fresh.db'}")
    yield engine
    engine.dispose()


def revision(engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_on_an_empty_database_creates_the_tables(empty_engine):
    assert inspect(empty_engine).get_table_names() == []
    migrate(empty_engine)

    tables = set(inspect(empty_engine).get_table_names())
    assert {"model", "model_version", "alias", "decision", "policy_version", "promotion_request", "evaluation",
            "approval", "outbox", "consent_flag", "alembic_version"} == tables
    assert revision(empty_engine) == "0004"
    with empty_engine.connect() as connection:
        # the migration and the models agree column for column
        assert compare_metadata(MigrationContext.configure(connection), RegistryTable.metadata) == []


def test_upgrading_twice_is_harmless_and_keeps_data(empty_engine):
    migrate(empty_engine)
    with Session(empty_engine) as session:
        session.add(RegisteredModel(name="churn", task="classification"))
        session.commit()
    migrate(empty_engine)

    assert revision(empty_engine) == "0004"
    with Session(empty_engine) as session:
        assert session.get(RegisteredModel, "churn") is not None


def test_sqlite_runs_in_wal_mode_and_both_enforce_foreign_keys(empty_engine):
    migrate(empty_engine)
    if empty_engine.dialect.name == "sqlite":
        with empty_engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with Session(empty_engine) as session, pytest.raises(IntegrityError):
        session.add(ModelVersion(model_name="ghost", version=1, run_id="r", dataset_id="d",
                                 artifact_uri="file:///m.onnx", primary_metric="roc_auc"))
        session.commit()


def test_a_version_registered_before_named_columns_upgrades_with_defaults(empty_engine):
    from alembic import command

    from conveyor_registry.adapters.db import alembic_config

    config = alembic_config()
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with empty_engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO model (name, task, created_at) VALUES ('churn', 'classification', "
                                   "'2025-01-01 00:00:00')")
        connection.exec_driver_sql(
            "INSERT INTO model_version (model_name, version, run_id, dataset_id, artifact_uri, reference_uri, metrics,"
            " fairness, training, code_version, feature_names, class_labels, sensitive_attributes, primary_metric,"
            " stage, created_at) VALUES ('churn', 1, 'r1', 'd1', 'file:///m.onnx', '', '{}', '[]', '{}', '', '[]',"
            " '[]', '[]', 'roc_auc', 'champion', '2025-01-01 00:00:00')")
    migrate(empty_engine)
    assert revision(empty_engine) == "0004"
    with Session(empty_engine) as session:
        row = session.get(ModelVersion, 1)
        assert row is not None
        assert (row.inputs, row.comparison, row.source, row.training_rows) == ([], {}, "platform", 0)


def test_the_champion_alias_of_a_database_before_approvals_becomes_production(empty_engine):
    from alembic import command

    from conveyor_registry.adapters.db import alembic_config
    from conveyor_registry.tables import Alias, Decision

    config = alembic_config()
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with empty_engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO model (name, task, created_at) VALUES ('churn', 'classification', "
                                   "'2025-01-01 00:00:00')")
        connection.exec_driver_sql(
            "INSERT INTO model_version (model_name, version, run_id, dataset_id, artifact_uri, reference_uri, metrics,"
            " fairness, training, code_version, feature_names, class_labels, sensitive_attributes, primary_metric,"
            " stage, created_at) VALUES ('churn', 1, 'r1', 'd1', 'file:///m.onnx', '', '{}', '[]', '{}', '', '[]',"
            " '[]', '[]', 'roc_auc', 'champion', '2025-01-01 00:00:00')")
        connection.exec_driver_sql("INSERT INTO alias (model_name, alias, version) VALUES ('churn', 'champion', 1)")
        connection.exec_driver_sql(
            "INSERT INTO decision (model_name, version, action, previous_version, reasons, decided_by, at) VALUES "
            "('churn', 1, 'promote', NULL, '[]', 'policy', '2025-01-01 00:00:00')")
    migrate(empty_engine)
    with Session(empty_engine) as session:
        assert session.get(Alias, ("churn", "production")).version == 1
        assert session.get(Alias, ("churn", "champion")) is None
        decision = session.get(Decision, 1)
        assert (decision.alias, decision.request_id, decision.policy_digest) == ("production", None, "")
