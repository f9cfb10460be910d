"""Ledger locks that follow what an allocation can touch. Allocations read gaps and pool balances and write them
back, so two writers over the same projects take turns instead of spending the same gap or pool twice — and two
writers over disjoint earmarks (two consumer replicas, an API call) never wait for each other.

- A country scope: money earmarked to a country, or to a project (which lies in one country), only ever reaches
  projects of that country; so do a project's creation and a change of its status. It takes the spanning lock
  *shared*, then the country's lock. The pools such a writer may also draw whose earmark names no country (a
  sector, an appeal, none) are shared with other countries' writers: `fill_gap` row-locks them (FOR UPDATE).
- The spanning scope: money whose earmark names no country, and a change of a project's requirements (money
  beyond the new need goes back to pools that projects anywhere may draw), can reach any project; it takes the
  spanning lock *exclusively*, so it waits for, and holds off, every country writer.

Locks are taken in one order — the spanning lock first, then countries sorted — so two writers never wait on
each other in a cycle. A consumer batch is handled lane by lane (`handlers.lock_batch`): each of its transactions
takes one lane — a country, or the spanning scope — the first one free (`take_free`, never waiting) or, when all
are busy, the first one, waited for (`take_first`), holding nothing else. A scope already held by the transaction
is not taken again. Whoever changes a project's requirements or status takes its scope before reading the
project.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import lock_for_transaction, try_lock_for_transaction

_LEDGER = "aid-projects-ledger"
_HELD = "aid_projects.ledger_locks"


@dataclass(frozen=True)
class Scope:
    countries: frozenset[str] = frozenset()
    spanning: bool = False

    def __or__(self, other: Scope) -> Scope:
        return Scope(self.countries | other.countries, self.spanning or other.spanning)

    def covers(self, other: Scope) -> bool:
        return self.spanning or (not other.spanning and other.countries <= self.countries)


NOTHING = Scope()
SPANNING = Scope(spanning=True)


def country(code: str) -> Scope:
    return Scope(countries=frozenset({code}))


def held(session: AsyncSession) -> Scope:
    """What this session's current transaction holds (nothing once it has ended)."""
    transaction = session.sync_session.get_transaction()
    owner, scope = session.info.get(_HELD, (None, NOTHING))
    return scope if transaction is not None and owner is transaction else NOTHING


async def take(session: AsyncSession, scope: Scope) -> None:
    """Hold `scope` until the transaction ends. Widening a held country scope to the spanning one can meet another
    writer doing the same; PostgreSQL then aborts one of them (a deadlock, retried like any transient failure) —
    callers avoid it by taking their widest scope first."""
    have = held(session)
    if have.covers(scope):
        return
    if scope.spanning:
        await lock_for_transaction(session, _LEDGER)
    else:
        if have == NOTHING:
            await lock_for_transaction(session, _LEDGER, shared=True)
        for code in sorted(scope.countries - have.countries):
            await lock_for_transaction(session, f"{_LEDGER}:{code}")
    session.info[_HELD] = (session.sync_session.get_transaction(), have | scope)


async def take_free(session: AsyncSession, scopes: list[Scope]) -> set[int]:
    """Of the lanes of a batch (`scopes`, one per event), take the first whose locks are free now — never waiting,
    so it cannot wait in a cycle — and return the positions of the events it covers (none: every lane is busy)."""
    for lane in _lanes(session, scopes):
        if await _try_take(session, lane):
            break
    return _covered(session, scopes)


async def take_first(session: AsyncSession, scopes: list[Scope]) -> set[int]:
    """Take the first lane of a batch, waiting for it; the positions of the events it covers."""
    lanes = _lanes(session, scopes)
    if lanes:
        await take(session, lanes[0])
    return _covered(session, scopes)


def _lanes(session: AsyncSession, scopes: list[Scope]) -> list[Scope]:
    """One lane per country (or the spanning one), in the order the batch first needs them. A transaction takes one
    lane, so two workers whose batches mix the same countries share them out instead of taking turns at all."""
    if held(session) != NOTHING:
        raise RuntimeError("a batch's transaction takes its lane first; this one holds ledger locks already")
    lanes: list[Scope] = []
    for scope in scopes:
        if scope != NOTHING and scope not in lanes:
            lanes.append(scope)
    return lanes


async def _try_take(session: AsyncSession, lane: Scope) -> bool:
    have = held(session)
    if lane.spanning:
        got = await try_lock_for_transaction(session, _LEDGER)
        have = SPANNING if got else have
    else:
        got = have != NOTHING or await try_lock_for_transaction(session, _LEDGER, shared=True)
        [code] = lane.countries
        got = got and await try_lock_for_transaction(session, f"{_LEDGER}:{code}")
        have = have | lane if got else have
    session.info[_HELD] = (session.sync_session.get_transaction(), have)
    return got


def _covered(session: AsyncSession, scopes: list[Scope]) -> set[int]:
    have = held(session)
    return {i for i, scope in enumerate(scopes) if have.covers(scope)}
