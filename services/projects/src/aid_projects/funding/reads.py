"""The ledger rows a transaction reads, read once: a consumer batch's agreements and their shares in one statement
each, under the lane's locks, kept for the transaction (`aid_common.db.kept`); pool balances carried forward by the
writer that moves them instead of summed again after every move.

What is kept is what no other writer can change while the transaction holds its ledger locks (`aid_projects.locks`):
an agreement's row and shares are written only by its own events (one consumer at a time: they share a key) and by
writers holding its earmark's scope — or, for an earmark that names no country, by a writer that row-locks the
agreement first (`fill_gap`), which then holds it to the end; a pool whose earmark names a country is moved only by
writers holding that country (or the spanning scope). A pool that names no country is drawn by any country's
writer, so its balance is read afresh unless the spanning scope is held.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import kept
from aid_contracts.pledges import AgreementFacts, DisbursementReceived, Earmark
from aid_projects import locks
from aid_projects.funding.models import EARMARK_COLUMNS, AgreementFunds, Share, earmark_of
from aid_projects.projects.models import Project

_AGREEMENTS, _SHARES, _POOLS = "projects.agreements", "projects.shares", "projects.pools"
_COUNTRIES: dict[uuid.UUID, str] = {}  # a project's country never changes: known once, for the process
_COUNTRIES_KEPT = 100_000


async def scopes(*, session: AsyncSession, payloads: list[object]) -> list[locks.Scope]:
    """Each payload's ledger scope (what its money can touch), before any lock: the earmarks of the agreements
    paid (a disbursement names only its agreement) and the countries of the projects named, one statement each."""
    paid = {p.agreement_id for p in payloads if isinstance(p, DisbursementReceived)}
    earmarks = await _earmarks(session, paid)
    wanted = [_earmark(p, earmarks) for p in payloads]
    await _learn_countries(session, {e.project_id for e in wanted if e is not None and e.project_id is not None})
    return [locks.NOTHING if e is None else scope_of_earmark(e) for e in wanted]


def _earmark(payload: object, paid: dict[uuid.UUID, Earmark]) -> Earmark | None:
    if isinstance(payload, AgreementFacts):
        return payload.earmark
    if isinstance(payload, DisbursementReceived):
        return paid.get(payload.agreement_id)  # None: never seen signed
    return None


async def _earmarks(session: AsyncSession, agreement_ids: set[uuid.UUID]) -> dict[uuid.UUID, Earmark]:
    """The earmarks of the agreements seen (an earmark never changes: read before any lock), one statement."""
    if not agreement_ids:
        return {}
    rows = await session.execute(
        select(AgreementFunds.agreement_id, *EARMARK_COLUMNS).where(AgreementFunds.agreement_id.in_(agreement_ids))
    )
    return {row[0]: earmark_of(*row[1:]) for row in rows.all()}


def scope_of_earmark(earmark: Earmark) -> locks.Scope:
    """The projects of one country, or (no country named, or a project not known yet, which may appear anywhere)
    any project. Known project countries must have been looked up (`_learn_countries`)."""
    if earmark.project_id is not None:
        code = _COUNTRIES.get(earmark.project_id)
        return locks.country(code) if code else locks.SPANNING
    return locks.country(earmark.country) if earmark.country else locks.SPANNING


async def scope_of(*, session: AsyncSession, earmark: Earmark) -> locks.Scope:
    if earmark.project_id is not None and earmark.project_id not in _COUNTRIES:
        await _learn_countries(session, {earmark.project_id})
    return scope_of_earmark(earmark)


async def scope_of_agreement(*, session: AsyncSession, agreement_id: uuid.UUID) -> locks.Scope:
    """The scope of an agreement's earmark (nothing if never seen): its kept row's, or its earmark read alone —
    its row is read, and kept, only under the scope's lock."""
    agreements = kept(session, _AGREEMENTS)
    if agreement_id in agreements:
        row = agreements[agreement_id]
        return locks.NOTHING if row is None else await scope_of(session=session, earmark=row.earmark)
    earmark = (await _earmarks(session, {agreement_id})).get(agreement_id)
    return locks.NOTHING if earmark is None else await scope_of(session=session, earmark=earmark)


async def _learn_countries(session: AsyncSession, project_ids: set[uuid.UUID]) -> None:
    unknown = project_ids - _COUNTRIES.keys()
    if not unknown:
        return
    if len(_COUNTRIES) > _COUNTRIES_KEPT:
        _COUNTRIES.clear()
    rows = await session.execute(select(Project.id, Project.country).where(Project.id.in_(unknown)))
    _COUNTRIES.update({pid: code for pid, code in rows.all()})


async def load(*, session: AsyncSession, agreement_ids: Iterable[uuid.UUID]) -> None:
    """Under the lane's locks: the agreements' rows and their shares, one statement each, kept for the
    transaction (an agreement not seen yet is kept as absent)."""
    agreements, shares = kept(session, _AGREEMENTS), kept(session, _SHARES)
    ids = {i for i in agreement_ids if i not in agreements}
    if not ids:
        return
    found = (await session.execute(select(AgreementFunds).where(AgreementFunds.agreement_id.in_(ids)))).scalars()
    agreements.update(dict.fromkeys(ids))
    for row in found:
        agreements[row.agreement_id] = row
        shares[row.agreement_id] = {}
    present = [i for i in ids if agreements[i] is not None]
    if present:
        for share in (await session.execute(select(Share).where(Share.agreement_id.in_(present)))).scalars():
            shares[share.agreement_id][share.project_id] = share


async def agreement(*, session: AsyncSession, agreement_id: uuid.UUID) -> AgreementFunds | None:
    agreements = kept(session, _AGREEMENTS)
    if agreement_id not in agreements:
        agreements[agreement_id] = await session.get(AgreementFunds, agreement_id)
    return agreements[agreement_id]


def agreement_created(*, session: AsyncSession, row: AgreementFunds) -> None:
    kept(session, _AGREEMENTS)[row.agreement_id] = row
    kept(session, _SHARES)[row.agreement_id] = {}


async def shares_of(*, session: AsyncSession, agreement_id: uuid.UUID) -> dict[uuid.UUID, Share]:
    """What each project holds of the agreement (the kept dict: a share added is added to it)."""
    shares = kept(session, _SHARES)
    if agreement_id not in shares:
        rows = await session.execute(select(Share).where(Share.agreement_id == agreement_id))
        shares[agreement_id] = {s.project_id: s for s in rows.scalars()}
    return shares[agreement_id]


async def new_share(*, session: AsyncSession, agreement_id: uuid.UUID, project_id: uuid.UUID) -> Share:
    share = Share(agreement_id=agreement_id, project_id=project_id, allocated_usd=Decimal(0), received_usd=Decimal(0))
    session.add(share)
    (await shares_of(session=session, agreement_id=agreement_id))[project_id] = share
    return share


async def pool_moved(*, session: AsyncSession, agreement: AgreementFunds, delta: Decimal) -> Decimal:
    """The balance of the agreement's pool after its `pool_usd` moved by `delta` (already applied)."""
    guarded = _guarded(session, agreement)
    balances = kept(session, _POOLS)
    if guarded and agreement.pool_key in balances:
        balances[agreement.pool_key] += delta
        return balances[agreement.pool_key]
    await session.flush()
    total = await session.scalar(
        select(func.coalesce(func.sum(AgreementFunds.pool_usd), 0)).where(AgreementFunds.pool_key == agreement.pool_key)
    )
    balance = Decimal(total or 0)
    if guarded:
        balances[agreement.pool_key] = balance
    return balance


def _guarded(session: AsyncSession, agreement: AgreementFunds) -> bool:
    held = locks.held(session)
    return held.spanning or (agreement.earmark_country is not None and agreement.earmark_country in held.countries)
