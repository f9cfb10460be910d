"""What an agreement's amounts and dates must be, checked the same way wherever money is recorded (a new
agreement, an amendment, a disbursement): places the currency allows, a USD value worth counting, dates in order
and not in the future. Each refusal is a 422 naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from aid_common.errors import Unprocessable
from aid_contracts.types import currency_exponent, in_currency
from aid_pledges.fx import service as fx


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def check_places(amount: Decimal, currency: str, field: str = "amount") -> None:
    places = currency_exponent(currency)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise Unprocessable(
            f"{field} {amount} has more decimal places than {currency} allows ({places})",
            errors=[{"location": f"body.{field}", "message": f"at most {places} decimal places for {currency}"}],
        )


def usd(amount: Decimal, currency: str, rate: Decimal) -> Decimal:
    """The USD value of an amount; one that rounds to nothing is refused (a signed agreement of USD 0.00 funds no
    one and usually means a wrong rate)."""
    value = fx.to_usd(amount, rate)
    if value <= 0:
        raise Unprocessable(
            f"{in_currency(amount, currency)} {currency} at {rate} USD per unit is USD {value}: nothing to count; "
            "check the amount and the rate",
            errors=[{"location": "body.amount", "message": "worth less than a cent in USD"}],
        )
    return value


def not_after(later: dt.date, earlier: dt.date, later_name: str, earlier_name: str) -> None:
    if later < earlier:
        raise Unprocessable(
            f"{later_name} ({later}) is before {earlier_name} ({earlier}); {earlier_name} ≤ {later_name} ≤ today",
            errors=[{"location": f"body.{later_name}", "message": f"before {earlier_name} {earlier}"}],
        )


def not_in_future(day: dt.date, name: str) -> None:
    if day > today():
        raise Unprocessable(
            f"{name} ({day}) is in the future; today is {today()} (UTC): record it when it has happened",
            errors=[{"location": f"body.{name}", "message": "in the future"}],
        )
