"""donors and FX rates announce their changes (NOTIFY), for the API processes' caches

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

from aid_pledges.reference_cache import create_triggers, drop_triggers

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_triggers(op, tables={"fx_rates": "fx_rates", "donors": "organisations"})


def downgrade() -> None:
    drop_triggers(op, tables=("fx_rates", "donors"))
