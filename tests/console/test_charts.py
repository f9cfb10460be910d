"""The overview's charts: what they are computed from, in money that stays Decimal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from aid_console import charts


def test_the_time_line_runs_from_the_first_signing_to_the_day_asked_in_even_steps() -> None:
    days = charts.days_between(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert len(days) == 12 and days[0] == dt.date(2024, 1, 1) and days[-1] == dt.date(2024, 12, 31)
    assert days == sorted(days)
    assert charts.days_between(dt.date(2024, 5, 1), dt.date(2024, 5, 1)) == [dt.date(2024, 5, 1)]
    agreements = [{"signed_on": "2024-03-02"}, {"signed_on": None}, {"signed_on": "2024-01-15"}]
    assert charts.first_day(agreements) == dt.date(2024, 1, 14), "the day before the first signing"


def test_top_donors_sum_signed_agreements_exactly_and_rank_them() -> None:
    agreements = [
        {"donor_id": "kw", "status": "signed", "amount_usd": "0.10"},
        {"donor_id": "kw", "status": "signed", "amount_usd": "0.20"},
        {"donor_id": "qa", "status": "signed", "amount_usd": "0.25"},
        {"donor_id": "qa", "status": "pledged", "amount_usd": "100.00"},  # a pledge is no money yet
        {"donor_id": "sa", "status": "cancelled", "amount_usd": "900.00"},
    ]
    donors = {"kw": {"name": "State of Kuwait"}, "qa": {"name": "Qatar Charity"}}
    ranked = charts.top_donors(agreements, donors)
    assert [(d["donor"]["name"], d["usd"]) for d in ranked] == [
        ("State of Kuwait", Decimal("0.30")),
        ("Qatar Charity", Decimal("0.25")),
    ]


def test_the_line_puts_the_highest_total_at_the_top_of_the_drawing() -> None:
    points = [
        charts.Point(dt.date(2024, 1, 1), Decimal(0), Decimal(0)),
        charts.Point(dt.date(2024, 6, 1), Decimal(50), Decimal(50)),
    ]
    drawn = charts.line(points)
    assert drawn["signed"] == "0.00,40.00 100.00,0.00" and drawn["funded"] == "0.00,40.00 100.00,20.00"
