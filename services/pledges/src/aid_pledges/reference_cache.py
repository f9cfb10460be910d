"""The donors and FX rates that every new agreement reads, cached in each API process
(`aid_common.notified_cache`). The triggers below announce each change of those rows on `CHANNEL` when it
commits — whoever makes it: this service's routes, another replica, a seed or an operator's hand-written SQL —
and every replica drops what it held of them.

Keys: `donor:<uuid>` (a donor's reference as events carry it) and `fx:<currency>` (all rates of a currency, by
`valid_from`); "*" drops everything (TRUNCATE)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import DDL, event

from aid_pledges.donors.models import Donor
from aid_pledges.fx.models import FxRate

CHANNEL = "aid_pledges_reference"


def donor_key(donor_id: uuid.UUID) -> str:
    return f"donor:{donor_id}"


def fx_key(currency: str) -> str:
    return f"fx:{currency}"


_FUNCTION = f"""
CREATE OR REPLACE FUNCTION aid_pledges_reference_changed() RETURNS trigger AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify('{CHANNEL}', '*');
  ELSIF TG_TABLE_NAME = 'fx_rates' THEN
    IF TG_OP <> 'INSERT' THEN PERFORM pg_notify('{CHANNEL}', 'fx:' || OLD.currency); END IF;
    IF TG_OP <> 'DELETE' THEN PERFORM pg_notify('{CHANNEL}', 'fx:' || NEW.currency); END IF;
  ELSE
    PERFORM pg_notify('{CHANNEL}', 'donor:' || OLD.id::text);
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
# Donors are only ever inserted by the API (a donor not yet cached is read when first used): no trigger on INSERT.
_TRIGGERS = {
    "fx_rates": ("fx_rates_changed", "AFTER INSERT OR UPDATE OR DELETE", "ROW"),
    "donors": ("donors_changed", "AFTER UPDATE OR DELETE", "ROW"),
}


def _statements(table: str) -> list[str]:
    name, when, _ = _TRIGGERS[table]
    each = "EXECUTE FUNCTION aid_pledges_reference_changed()"
    return [
        _FUNCTION,
        f"DROP TRIGGER IF EXISTS {name} ON {table}",
        f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW {each}",
        f"DROP TRIGGER IF EXISTS {table}_truncated ON {table}",
        f"CREATE TRIGGER {table}_truncated AFTER TRUNCATE ON {table} FOR EACH STATEMENT {each}",
    ]


def create_triggers(op: Any) -> None:
    """For the migration that added them."""
    for table in _TRIGGERS:
        for statement in _statements(table):
            op.execute(statement)


def drop_triggers(op: Any) -> None:
    for table, (name, _, _) in _TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_truncated ON {table}")
    op.execute("DROP FUNCTION IF EXISTS aid_pledges_reference_changed()")


for _model in (Donor, FxRate):  # tables made by create_all (embedded mode, tests) get them too, on PostgreSQL
    for _statement in _statements(_model.__tablename__):
        event.listen(_model.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
