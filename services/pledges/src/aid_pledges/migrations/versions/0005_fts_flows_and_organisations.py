"""OCHA FTS flows and the organisations they name

Agreements may be imported FTS flows (their FTS id, version and route); donors may be organisations FTS names
(their FTS id and organisation types), whose country is sometimes unknown. Existing rows keep everything.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("donors", "country", existing_type=sa.String(length=2), nullable=True)
    op.add_column("donors", sa.Column("fts_org_id", sa.String(length=20), nullable=True))
    op.add_column("donors", sa.Column("fts_types", sa.JSON(), nullable=False, server_default="[]"))
    op.create_unique_constraint(op.f("uq_donors_fts_org_id"), "donors", ["fts_org_id"])
    op.add_column("agreements", sa.Column("fts_flow_id", sa.String(length=20), nullable=True))
    op.add_column("agreements", sa.Column("fts_version", sa.Integer(), nullable=True))
    op.add_column("agreements", sa.Column("route", sa.JSON(), nullable=True))
    op.add_column("agreements", sa.Column("fts", sa.JSON(), nullable=True))
    op.create_unique_constraint(op.f("uq_agreements_fts_flow_id"), "agreements", ["fts_flow_id"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_agreements_fts_flow_id"), "agreements", type_="unique")
    op.drop_column("agreements", "fts")
    op.drop_column("agreements", "route")
    op.drop_column("agreements", "fts_version")
    op.drop_column("agreements", "fts_flow_id")
    op.drop_constraint(op.f("uq_donors_fts_org_id"), "donors", type_="unique")
    op.drop_column("donors", "fts_types")
    op.drop_column("donors", "fts_org_id")
    op.alter_column("donors", "country", existing_type=sa.String(length=2), nullable=False)
