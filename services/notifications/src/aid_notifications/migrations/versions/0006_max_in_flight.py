"""a subscription's own cap on webhook requests at once

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


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("max_in_flight", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("subscriptions", "max_in_flight")
