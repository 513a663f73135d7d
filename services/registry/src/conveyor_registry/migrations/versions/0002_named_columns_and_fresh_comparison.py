"""model_version: the ONNX inputs, the fresh-holdout comparison, where the training rows came from

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versions registered before this revision get what their events implied: no per-column inputs, no
# comparison, built by the platform.
COLUMNS = (
    sa.Column("inputs", sa.JSON(), nullable=False, server_default="[]"),
    sa.Column("comparison", sa.JSON(), nullable=False, server_default="{}"),
    sa.Column("source", sa.String(), nullable=False, server_default="platform"),
    sa.Column("trigger", sa.String(), nullable=False, server_default=""),
    sa.Column("training_dataset_ids", sa.JSON(), nullable=False, server_default="[]"),
    sa.Column("training_rows", sa.Integer(), nullable=False, server_default="0"),
)


def upgrade() -> None:
    with op.batch_alter_table("model_version") as batch:
        for column in COLUMNS:
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("model_version") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column.name)
