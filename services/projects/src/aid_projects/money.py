"""USD amounts, coverage ratios and the figures every row carries: the rules every figure of this service
follows (computed in `funding.figures`)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, Field

from aid_contracts.types import Money, Ratio

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_RATIO = Decimal("0.0001")


def usd(value: Decimal | int | str | None) -> Decimal:
    """A sum read back from the database (NUMERIC, integer cents on SQLite, or NULL) as USD to the cent."""
    return Decimal(value or 0).quantize(CENT)


def coverage(funded: Decimal, requirements: Decimal) -> Decimal:
    """funded / requirements to four places (0 when nothing is required)."""
    if requirements <= 0:
        return Decimal("0.0000")
    return (funded / requirements).quantize(_RATIO, rounding=ROUND_HALF_EVEN)


class Figures(BaseModel):
    """One rule at every level (project, country, sector, pillar, appeal, all): see `funding.figures`."""

    requirements_usd: Money
    funded_usd: Money = Field(description="allocations to projects inside the row (never pools)")
    unmet_usd: Money = Field(description="requirements not met, counting no project above its own requirements")
    overfunded_usd: Money = Field(description="funding above a project's own requirements (project earmarks)")
    unallocated_usd: Money = Field(description="pools whose earmark lies inside the row")
    received_usd: Money = Field(description="money received: projects' plus pools' inside the row")
    coverage: Ratio = Field(description="funded / requirements")
