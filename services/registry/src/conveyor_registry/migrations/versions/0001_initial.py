"""initial schema: model, model_version, alias, decision

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from conveyor_registry.tables import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model",
        sa.Column("name", sa.String(length=200), primary_key=True),
        sa.Column("task", sa.String(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "model_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_name", sa.String(), sa.ForeignKey("model.name"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False, unique=True),
        sa.Column("dataset_id", sa.String(), nullable=False),
        sa.Column("artifact_uri", sa.String(), nullable=False),
        sa.Column("reference_uri", sa.String(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("fairness", sa.JSON(), nullable=False),
        sa.Column("training", sa.JSON(), nullable=False),
        sa.Column("code_version", sa.String(), nullable=False),
        sa.Column("feature_names", sa.JSON(), nullable=False),
        sa.Column("class_labels", sa.JSON(), nullable=False),
        sa.Column("sensitive_attributes", sa.JSON(), nullable=False),
        sa.Column("primary_metric", sa.String(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("model_name", "version", name="uq_model_version"),
    )
    op.create_index("ix_model_version_model_name", "model_version", ["model_name"])
    op.create_table(
        "alias",
        sa.Column("model_name", sa.String(), sa.ForeignKey("model.name"), primary_key=True),
        sa.Column("alias", sa.String(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name", "version"], ["model_version.model_name", "model_version.version"],
            name="fk_alias_version",
        ),
    )
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_name", sa.String(), sa.ForeignKey("model.name"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("previous_version", sa.Integer(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name", "version"], ["model_version.model_name", "model_version.version"],
            name="fk_decision_version",
        ),
    )
    op.create_index("ix_decision_model_name", "decision", ["model_name"])


def downgrade() -> None:
    op.drop_table("decision")
    op.drop_table("alias")
    op.drop_table("model_version")
    op.drop_table("model")
