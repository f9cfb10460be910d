"""The overview's charts, computed from what the services answer and drawn server-side as SVG (no script, no CDN):
funding over time by the dates money moved, and the top donors. Money stays `Decimal`; only the drawing's
coordinates are plain numbers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

STEPS = 12  # points on the time line
WIDTH, HEIGHT = 100, 40  # the line's viewBox


@dataclass(frozen=True)
class Point:
    day: dt.date
    funded_usd: Decimal
    unallocated_usd: Decimal


def days_between(first: dt.date, last: dt.date, steps: int = STEPS) -> list[dt.date]:
    """`steps` days from `first` to `last`, evenly spread, both ends included (one when they are the same day)."""
    if last <= first:
        return [last]
    span = (last - first).days
    return sorted({first + dt.timedelta(days=round(span * i / (steps - 1))) for i in range(steps)})


def first_day(agreements: list[dict]) -> dt.date | None:
    """Where the time line starts: the day before the earliest signing among the agreements (at nothing yet)."""
    days = [dt.date.fromisoformat(a["signed_on"]) for a in agreements if a.get("signed_on")]
    return min(days) - dt.timedelta(days=1) if days else None


def line(points: list[Point]) -> dict[str, str]:
    """SVG polyline points for funded and for funded + unallocated, scaled to the viewBox (the highest at top)."""
    top = max((p.funded_usd + p.unallocated_usd for p in points), default=Decimal(0)) or Decimal(1)
    last = max(len(points) - 1, 1)

    def xy(i: int, value: Decimal) -> str:
        x = WIDTH * i / last
        y = HEIGHT - float(value / top) * HEIGHT  # a coordinate on the drawing, not an amount
        return f"{x:.2f},{y:.2f}"

    return {
        "funded": " ".join(xy(i, p.funded_usd) for i, p in enumerate(points)),
        "signed": " ".join(xy(i, p.funded_usd + p.unallocated_usd) for i, p in enumerate(points)),
    }


def top_donors(agreements: list[dict], donors: dict[str, dict], n: int = 8) -> list[dict]:
    """Donors by the US dollars of their signed agreements, the largest first, each with its share of the
    largest (for its bar)."""
    totals: dict[str, Decimal] = {}
    for a in agreements:
        if a.get("status") == "signed":
            totals[a["donor_id"]] = totals.get(a["donor_id"], Decimal(0)) + Decimal(a["amount_usd"])
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:n]
    return [{"donor": donors.get(donor_id, {"name": donor_id}), "usd": usd} for donor_id, usd in ranked]
