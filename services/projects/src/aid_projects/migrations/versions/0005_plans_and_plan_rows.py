"""FTS plans as appeals, and the plan x cluster ledger

Appeals may carry an OCHA FTS plan id and type; what a plan requires in each country (as a whole and per cluster)
is kept per country; each agreement's moves in its country's plan x cluster table are append-only entries dated
by when the money moved. Existing appeals keep everything (the new columns are empty).

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aid_common.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("appeals", sa.Column("fts_plan_id", sa.String(length=20), nullable=True))
    op.add_column("appeals", sa.Column("plan_type", sa.String(length=100), nullable=True))
    op.create_unique_constraint(op.f("uq_appeals_fts_plan_id"), "appeals", ["fts_plan_id"])
    op.create_table(
        "plan_requirements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("appeal_id", sa.Uuid(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("cluster", sa.String(length=100), nullable=False),
        sa.Column("cluster_name", sa.String(length=300), nullable=False),
        sa.Column("requirements_usd", aid_common.db.Amount(scale=2, precision=20), nullable=True),
        sa.Column("published_funding_usd", aid_common.db.Amount(scale=2, precision=20), nullable=True),
        sa.ForeignKeyConstraint(["appeal_id"], ["appeals.id"], name=op.f("fk_plan_requirements_appeal_id_appeals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_requirements")),
        sa.UniqueConstraint("appeal_id", "country", "cluster", name="uq_plan_requirements_row"),
    )
    op.create_index(op.f("ix_plan_requirements_appeal_id"), "plan_requirements", ["appeal_id"], unique=False)
    op.create_index(op.f("ix_plan_requirements_country"), "plan_requirements", ["country"], unique=False)
    op.create_table(
        "plan_row_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("plan", sa.String(length=50), nullable=True),
        sa.Column("cluster", sa.String(length=100), nullable=False),
        sa.Column("amount_usd", aid_common.db.Amount(scale=2, precision=20), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", aid_common.db.UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_row_entries")),
    )
    for column in ("agreement_id", "country", "effective_on", "recorded_at"):
        op.create_index(op.f(f"ix_plan_row_entries_{column}"), "plan_row_entries", [column], unique=False)


def downgrade() -> None:
    op.drop_table("plan_row_entries")
    op.drop_table("plan_requirements")
    op.drop_constraint(op.f("uq_appeals_fts_plan_id"), "appeals", type_="unique")
    op.drop_column("appeals", "plan_type")
    op.drop_column("appeals", "fts_plan_id")
