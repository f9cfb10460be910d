"""money entries dated by when the money moved

Ledger, pool and received entries get `effective_on`: the day the money moved (an agreement signed, amended or
cancelled, money received), beside `created_at`, when it was recorded. Figures `as_of` a day read the first,
`known_at` a moment the second. Existing entries are dated by the day they were recorded (UTC): what was known of
them, so every figure read before the upgrade reads the same after it.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("ledger_entries", "pool_entries", "received_entries")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("effective_on", sa.Date(), nullable=True))
        op.execute(f"UPDATE {table} SET effective_on = (created_at AT TIME ZONE 'UTC')::date")  # noqa: S608
        op.alter_column(table, "effective_on", nullable=False)
        op.create_index(op.f(f"ix_{table}_effective_on"), table, ["effective_on"], unique=False)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(op.f(f"ix_{table}_effective_on"), table_name=table)
        op.drop_column(table, "effective_on")
