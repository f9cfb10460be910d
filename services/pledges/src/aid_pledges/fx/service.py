"""FX rates: data (an API and a seed file), never code. An amount converts at the rate in force on a day."""

from __future__ import annotations

import bisect
import datetime as dt
import json
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from operator import itemgetter

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import commit_signals
from aid_common.errors import Unprocessable
from aid_common.notified_cache import NotifiedCache
from aid_pledges.fx.models import FxRate
from aid_pledges.reference_cache import CHANNEL, fx_key

CENT = Decimal("0.01")


def to_usd(amount: Decimal, rate: Decimal) -> Decimal:
    """USD to the cent, rounding half to even (banker's rounding), as stated in the API docs."""
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)


async def put(*, session: AsyncSession, currency: str, usd_per_unit: Decimal, valid_from: dt.date) -> FxRate:
    if currency == "USD" and usd_per_unit != 1:
        raise Unprocessable("the USD rate is 1 by definition")
    rate = await session.get(FxRate, (currency, valid_from))
    if rate is None:
        rate = FxRate(currency=currency, valid_from=valid_from, usd_per_unit=usd_per_unit)
        session.add(rate)
    else:
        rate.usd_per_unit = usd_per_unit
    await session.flush()
    commit_signals.signal(session, CHANNEL)  # this process's caches forget rates before the answer goes out
    return rate


_RATES = FxRate.__table__
# Built once: every agreement and disbursement reads it.
_RATE_ON = (
    select(_RATES.c.usd_per_unit)
    .where(_RATES.c.currency == bindparam("currency"), _RATES.c.valid_from <= bindparam("day"))
    .order_by(_RATES.c.valid_from.desc())
    .limit(1)
)
_RATES_OF = (
    select(_RATES.c.valid_from, _RATES.c.usd_per_unit)
    .where(_RATES.c.currency == bindparam("currency"))
    .order_by(_RATES.c.valid_from)
)


async def rate_on(*, session: AsyncSession, currency: str, day: dt.date, cache: NotifiedCache | None = None) -> Decimal:
    """The rate in force on `day`: with `cache`, from the currency's rates held in memory (read all at once, a
    few dozen rows; dropped whenever one changes), else one statement."""
    if cache is None:
        found = (await session.execute(_RATE_ON, {"currency": currency, "day": day})).scalar_one_or_none()
    else:

        async def read() -> tuple[tuple[dt.date, Decimal], ...]:
            return tuple(tuple(row) for row in await session.execute(_RATES_OF, {"currency": currency}))

        rates = await cache.get(fx_key(currency), read)
        in_force = bisect.bisect_right(rates, day, key=itemgetter(0))
        found = rates[in_force - 1][1] if in_force else None
    if found is None:
        raise Unprocessable(
            f"no {currency} to USD rate is in force on {day.isoformat()}; add one with PUT /v1/fx-rates/{currency}"
        )
    return found


async def list_(*, session: AsyncSession, currency: str | None) -> list[FxRate]:
    stmt = select(FxRate).order_by(FxRate.currency, FxRate.valid_from)
    if currency:
        stmt = stmt.where(FxRate.currency == currency)
    return list((await session.execute(stmt)).scalars().all())


async def seed(*, session: AsyncSession) -> int:
    """Load the shipped seed rates that are not there yet. Returns how many were added."""
    data = json.loads(resources.files("aid_pledges.fx").joinpath("seed_rates.json").read_text("utf-8"))
    added = 0
    for row in data["rates"]:
        key = (row["currency"], dt.date.fromisoformat(row["valid_from"]))
        if await session.get(FxRate, key) is None:
            session.add(FxRate(currency=key[0], valid_from=key[1], usd_per_unit=Decimal(row["usd_per_unit"])))
            added += 1
    await session.flush()
    commit_signals.signal(session, CHANNEL)
    return added
