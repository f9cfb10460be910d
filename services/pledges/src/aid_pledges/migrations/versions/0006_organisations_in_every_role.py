"""Organisations in every role: the donors table becomes `organisations`

Every donor stays, with its id, names, kind, country and FTS identity, and plays the donor role (a pooled fund
also the pooled-fund role). Agreements may name their recipient organisation. The change-notice triggers follow
the table.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from aid_pledges.reference_cache import create_triggers, drop_triggers

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("is_donor", "is_recipient", "is_implementing_partner", "is_pooled_fund")


def upgrade() -> None:
    drop_triggers(op, tables=("donors",), function=False)
    op.rename_table("donors", "organisations")
    op.execute("ALTER TABLE organisations RENAME CONSTRAINT pk_donors TO pk_organisations")
    op.execute("ALTER TABLE organisations RENAME CONSTRAINT uq_donors_fts_org_id TO uq_organisations_fts_org_id")
    op.execute("ALTER INDEX ix_donors_country RENAME TO ix_organisations_country")
    op.execute("ALTER INDEX ix_donors_created_at RENAME TO ix_organisations_created_at")
    op.execute(
        "ALTER TABLE agreements RENAME CONSTRAINT fk_agreements_donor_id_donors TO fk_agreements_donor_id_organisations"
    )
    for role in ROLES:
        op.add_column("organisations", sa.Column(role, sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE organisations SET is_donor = true, is_pooled_fund = (kind = 'pooled_fund')")
    op.create_index(op.f("ix_organisations_is_donor"), "organisations", ["is_donor"], unique=False)
    op.add_column("agreements", sa.Column("recipient_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_agreements_recipient_id_organisations"), "agreements", "organisations", ["recipient_id"], ["id"]
    )
    op.create_index(op.f("ix_agreements_recipient_id"), "agreements", ["recipient_id"], unique=False)
    create_triggers(op, tables={"organisations": "organisations"})


def downgrade() -> None:
    drop_triggers(op, tables=("organisations",), function=False)
    op.drop_index(op.f("ix_agreements_recipient_id"), table_name="agreements")
    op.drop_constraint(op.f("fk_agreements_recipient_id_organisations"), "agreements", type_="foreignkey")
    op.drop_column("agreements", "recipient_id")
    op.drop_index(op.f("ix_organisations_is_donor"), table_name="organisations")
    op.execute("DELETE FROM organisations WHERE NOT is_donor")  # they were never donors: the old table had none
    for role in ROLES:
        op.drop_column("organisations", role)
    op.execute(
        "ALTER TABLE agreements RENAME CONSTRAINT fk_agreements_donor_id_organisations TO fk_agreements_donor_id_donors"
    )
    op.execute("ALTER INDEX ix_organisations_created_at RENAME TO ix_donors_created_at")
    op.execute("ALTER INDEX ix_organisations_country RENAME TO ix_donors_country")
    op.execute("ALTER TABLE organisations RENAME CONSTRAINT uq_organisations_fts_org_id TO uq_donors_fts_org_id")
    op.execute("ALTER TABLE organisations RENAME CONSTRAINT pk_organisations TO pk_donors")
    op.rename_table("organisations", "donors")
    create_triggers(op, tables={"donors": "organisations"})
