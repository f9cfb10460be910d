"""The database, one door per mechanism:

- `engine`: engines, pool checks, savepoint names, what a database that is away looks like (`is_transient`);
- `units`: units of work, the only ways anything commits (`unit_of_work`, `transaction`, `run_alone`);
- `statements`: statements written once in Core and run on either database (`insert_or_skip`, `for_driver`,
  `bulk_insert`);
- `rows`: many rows of a table in one statement whose text does not change with their number (`insert_rows`);
- `gather`: concurrent calls gathered into one batch (`Gather`);
- `types`: column types (`Amount`, `UtcDateTime`) and the platform tables' base;
- `locks`: named locks held until the transaction ends;
- `kept`: what a transaction reads once and keeps while it lasts (`kept`, `forget`);
- `deferred`: rows a transaction writes when it ends, a statement per table (`defer_rows`, `write_deferred`).

Dialect branches live in these modules, not in services. The names below are what callers import.
"""

from aid_common.db.deferred import defer_rows, deferred_rows, write_deferred
from aid_common.db.engine import create_all, create_engine, is_transient, ping, session_factory
from aid_common.db.gather import Gather
from aid_common.db.kept import forget, kept
from aid_common.db.locks import lock_for_transaction, try_lock_for_transaction
from aid_common.db.rows import check_values, insert_rows, insert_rows_alone
from aid_common.db.statements import bulk_insert, dialect_of, insert_or_skip, is_postgres
from aid_common.db.types import (
    Amount,
    AmountOutOfRange,
    AnyRow,
    BigIntPK,
    PlatformBase,
    UtcDateTime,
    new_metadata,
    utcnow,
)
from aid_common.db.units import Grouping, Transaction, fetch_alone, run_alone, transaction, unit_of_work

__all__ = [
    "Amount",
    "AmountOutOfRange",
    "AnyRow",
    "BigIntPK",
    "Gather",
    "Grouping",
    "PlatformBase",
    "Transaction",
    "UtcDateTime",
    "bulk_insert",
    "check_values",
    "create_all",
    "create_engine",
    "defer_rows",
    "deferred_rows",
    "dialect_of",
    "fetch_alone",
    "forget",
    "insert_or_skip",
    "insert_rows",
    "insert_rows_alone",
    "is_postgres",
    "is_transient",
    "kept",
    "lock_for_transaction",
    "new_metadata",
    "ping",
    "run_alone",
    "session_factory",
    "transaction",
    "try_lock_for_transaction",
    "unit_of_work",
    "utcnow",
    "write_deferred",
]
