"""consent_flag: runs trained on subjects without valid consent (the promotion policy's consent rule)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_flag",
        sa.Column("run_id", sa.String(), primary_key=True),
        sa.Column("subject_ref", sa.String(), primary_key=True),
        sa.Column("model_name", sa.String(), nullable=False, index=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("consent_flag")
