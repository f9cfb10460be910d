"""partner accounts are organisations: the organisations the pledges service announces, and every existing
partner announced again

A partner account's id is its organisation's id in every service. The pledges service makes an organisation of
each partner it hears of (aid.partner.created / updated); accounts opened before it listened are announced once
more here, through the outbox, so that none is left out.

Revision ID: 0007
Revises: 0006
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aid_common import outbox
from aid_common.db import UtcDateTime
from aid_common.tables import OutboxMessage
from aid_contracts.notifications import PartnerUpdated

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    partners = op.get_bind().execute(sa.text("SELECT id, name, names FROM partners ORDER BY created_at")).all()
    announced = [
        outbox.row(
            PartnerUpdated(
                partner_id=p.id, name=p.name, names=json.loads(p.names) if isinstance(p.names, str) else p.names
            )
        )
        for p in partners
    ]
    if announced:
        op.bulk_insert(OutboxMessage.__table__, announced)


def downgrade() -> None:
    op.drop_table("organisations")
