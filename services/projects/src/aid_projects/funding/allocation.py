"""The allocation engine: pure functions over exact cents, no database.

The service gathers the facts (an agreement's current shares and pool balance, the matching projects' gaps),
asks these functions for a plan and writes it. Property-based tests drive the same functions through random
histories, so the rules below are the rules the service applies.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

from aid_projects.money import CENT, ZERO

K = TypeVar("K", bound=Hashable)


def _cents(amount: Decimal) -> int:
    cents = amount.scaleb(2)
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    return int(cents)


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2).quantize(CENT)


def split_by_weight(amount: Decimal, weights: Mapping[K, Decimal]) -> dict[K, Decimal]:
    """Split `amount` in proportion to `weights`, to the cent, by the largest-remainder method: the parts add up
    to `amount` exactly, and while `amount` ≤ Σ weights no part exceeds its weight. Ties go to the earlier key."""
    total_cents = _cents(amount)
    w = {k: _cents(v) for k, v in weights.items() if v > 0}
    total_weight = sum(w.values())
    if total_cents < 0:
        raise ValueError("the amount to split must not be negative")
    if total_cents == 0:
        return {}
    if total_weight == 0:
        raise ValueError("nothing to split in proportion to: every weight is zero")
    floors = {k: total_cents * v // total_weight for k, v in w.items()}
    remainders = {k: total_cents * v % total_weight for k, v in w.items()}
    leftover = total_cents - sum(floors.values())
    order = sorted(w, key=lambda k: -remainders[k])  # sorted() is stable: ties keep the given order
    for k in order[:leftover]:
        floors[k] += 1
    return {k: _money(c) for k, c in floors.items() if c}


def split_by_gap(amount: Decimal, gaps: Mapping[K, Decimal]) -> tuple[dict[K, Decimal], Decimal]:
    """Give `amount` to projects in proportion to their remaining gaps, never above a gap.
    Returns the parts and what no project could take (for the pool)."""
    open_gaps = {k: g for k, g in gaps.items() if g > 0}
    room = sum(open_gaps.values(), ZERO)
    if amount >= room:
        return dict(open_gaps), amount - room
    return split_by_weight(amount, open_gaps), ZERO


@dataclass
class Plan(Generic[K]):
    """What to write for one agreement: a signed amount per project (negative = reversal) and the pool's change."""

    projects: dict[K, Decimal] = field(default_factory=dict)
    pool: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return sum(self.projects.values(), ZERO) + self.pool


def plan_agreement(
    *,
    target: Decimal,
    shares: Mapping[K, Decimal],
    pool: Decimal,
    named: K | None = None,
    gaps: Mapping[K, Decimal] | None = None,
) -> Plan[K]:
    """Bring an agreement from what it holds now (`shares` per project + `pool`) to `target` USD.

    More to give: all of it to the `named` project (it may end over-funded), else across `gaps` in proportion
    to them, the rest to the pool. Less to give: the pool gives back first (it is not yet anyone's money), then
    the projects in proportion to what they hold of this agreement. `target` 0 reverses everything.
    """
    held = sum(shares.values(), ZERO) + pool
    delta = target - held
    if delta > 0:
        if named is not None:
            return Plan({named: delta})
        parts, rest = split_by_gap(delta, gaps or {})
        return Plan(parts, rest)
    if delta < 0:
        take = -delta
        from_pool = min(pool, take)
        parts = split_by_weight(take - from_pool, shares)
        return Plan({k: -v for k, v in parts.items()}, -from_pool)
    return Plan()


def plan_draw(gap: Decimal, balances: Sequence[tuple[K, Decimal]]) -> dict[K, Decimal]:
    """A project with `gap` left draws from pool balances in the order given (tightest earmark, oldest first)."""
    draws: dict[K, Decimal] = {}
    left = gap
    for key, balance in balances:
        if left <= 0:
            break
        take = min(left, balance)
        if take > 0:
            draws[key] = take
            left -= take
    return draws
