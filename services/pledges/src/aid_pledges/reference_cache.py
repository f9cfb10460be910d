"""The donors (organisations) and FX rates that every new agreement reads, cached in each API process
(`aid_common.notified_cache`). The triggers below announce each change of those rows on `CHANNEL` when it
commits — whoever makes it: this service's routes, another replica, a seed or an operator's hand-written SQL —
and every replica drops what it held of them.

Keys: `donor:<uuid>` (a donor's reference as events carry it) and `fx:<currency>` (all rates of a currency, by
`valid_from`); "*" drops everything (TRUNCATE)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import DDL, event

from aid_pledges.fx.models import FxRate
from aid_pledges.organisations.models import Organisation

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
# Organisations are only ever inserted by the service (one not yet cached is read when first used): no trigger on
# INSERT. Each row trigger is named after its table: `<table>_changed`, `<table>_truncated`.
_WHEN = {"fx_rates": "AFTER INSERT OR UPDATE OR DELETE", "organisations": "AFTER UPDATE OR DELETE"}


def _statements(table: str, *, when: str) -> list[str]:
    each = "EXECUTE FUNCTION aid_pledges_reference_changed()"
    return [
        _FUNCTION,
        f"DROP TRIGGER IF EXISTS {table}_changed ON {table}",
        f"CREATE TRIGGER {table}_changed {when} ON {table} FOR EACH ROW {each}",
        f"DROP TRIGGER IF EXISTS {table}_truncated ON {table}",
        f"CREATE TRIGGER {table}_truncated AFTER TRUNCATE ON {table} FOR EACH STATEMENT {each}",
    ]


def create_triggers(op: Any, *, tables: dict[str, str] | None = None) -> None:
    """For the migrations: `tables` maps a table to the table whose triggers it gets (the organisations were
    once the `donors` table)."""
    for table, like in (tables or {t: t for t in _WHEN}).items():
        for statement in _statements(table, when=_WHEN[like]):
            op.execute(statement)


def drop_triggers(op: Any, *, tables: tuple[str, ...] = tuple(_WHEN), function: bool = True) -> None:
    for table in tables:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_truncated ON {table}")
    if function:
        op.execute("DROP FUNCTION IF EXISTS aid_pledges_reference_changed()")


for _model in (Organisation, FxRate):  # tables made by create_all (embedded mode, tests) get them too, on PostgreSQL
    for _statement in _statements(_model.__tablename__, when=_WHEN[_model.__tablename__]):
        event.listen(_model.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
