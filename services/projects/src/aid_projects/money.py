"""USD amounts and coverage ratios: the rounding rules every figure of this service follows."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_RATIO = Decimal("0.0001")


def usd(value: object) -> Decimal:
    """A sum read back from the database (NUMERIC, integer cents on SQLite, or NULL) as USD to the cent."""
    return Decimal(value or 0).quantize(CENT)


def coverage(funded: Decimal, requirements: Decimal) -> Decimal:
    """funded / requirements to four places (0 when nothing is required)."""
    if requirements <= 0:
        return Decimal("0.0000")
    return (funded / requirements).quantize(_RATIO, rounding=ROUND_HALF_EVEN)
