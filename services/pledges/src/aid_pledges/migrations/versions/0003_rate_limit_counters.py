"""rate-limit counters shared by every replica

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

from aid_common.tables import RateLimitCounter, create_rate_limit_table

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_rate_limit_table(op)


def downgrade() -> None:
    op.drop_table(RateLimitCounter.__tablename__)
