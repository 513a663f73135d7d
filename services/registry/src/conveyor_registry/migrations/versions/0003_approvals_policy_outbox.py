"""approvals: promotion requests, gate evaluations, approvals, policy versions, the outbox; the champion alias
becomes production

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from conveyor_registry.tables import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Decisions made before approvals existed were about the champion alias, with no request or policy version.
DECISION_COLUMNS = (
    sa.Column("alias", sa.String(), nullable=False, server_default="production"),
    sa.Column("request_id", sa.String(), nullable=True),
    sa.Column("policy_version", sa.Integer(), nullable=True),
    sa.Column("policy_digest", sa.String(), nullable=False, server_default=""),
    sa.Column("event_id", sa.String(), nullable=False, server_default=""),
)


def upgrade() -> None:
    with op.batch_alter_table("model") as batch:
        batch.add_column(sa.Column("risk_tier", sa.String(), nullable=True))
    with op.batch_alter_table("model_version") as batch:
        batch.add_column(sa.Column("author", sa.String(), nullable=False, server_default=""))
    with op.batch_alter_table("decision") as batch:
        for column in DECISION_COLUMNS:
            batch.add_column(column)
    # "champion" was the one alias and what serving followed: that is production now
    op.execute("UPDATE alias SET alias = 'production' WHERE alias = 'champion'")
    op.create_table(
        "policy_version",
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("digest", sa.String(), nullable=False, unique=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("published_by", sa.String(), nullable=False),
        sa.Column("published_role", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
    )
    op.create_table(
        "promotion_request",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("model_name", sa.String(), sa.ForeignKey("model.name"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("requested_role", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("champion_version", sa.Integer(), nullable=True),
        sa.Column("risk_tier", sa.String(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("policy_digest", sa.String(), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("required_roles", sa.JSON(), nullable=False),
        sa.Column("policy_publisher", sa.String(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=False),
        sa.Column("close_reasons", sa.JSON(), nullable=False),
    )
    op.create_index("ix_promotion_request_model_name", "promotion_request", ["model_name"])
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.String(), sa.ForeignKey("promotion_request.id"), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("policy_digest", sa.String(), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("input_digest", sa.String(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("evidence_digest", sa.String(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_evaluation_request_id", "evaluation", ["request_id"])
    op.create_table(
        "approval",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.String(), sa.ForeignKey("promotion_request.id"), nullable=False),
        sa.Column("approver", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("comment", sa.String(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("request_id", "approver", name="uq_approval_once"),
    )
    op.create_index("ix_approval_request_id", "approval", ["request_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(), nullable=False, unique=True),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("time", sa.String(), nullable=False),
        sa.Column("traceparent", sa.String(), nullable=False),
        sa.Column("tracestate", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("published_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_outbox_request_id", "outbox", ["request_id"])
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])


def downgrade() -> None:
    for table in ("outbox", "approval", "evaluation", "promotion_request", "policy_version"):
        op.drop_table(table)
    op.execute("UPDATE alias SET alias = 'champion' WHERE alias = 'production'")
    with op.batch_alter_table("decision") as batch:
        for column in reversed(DECISION_COLUMNS):
            batch.drop_column(column.name)
    with op.batch_alter_table("model_version") as batch:
        batch.drop_column("author")
    with op.batch_alter_table("model") as batch:
        batch.drop_column("risk_tier")
