"""FX rates: bad currencies, rates and dates are 422; the seeded rates are listed."""

from __future__ import annotations

from tests.helpers import PROBLEM


async def test_fx_rate_validation(pledges, writer, reader) -> None:
    bad = [
        ("XYZ", {"usd_per_unit": "1", "valid_from": "2024-01-01"}),
        ("KWD", {"usd_per_unit": "-1", "valid_from": "2024-01-01"}),
        ("KWD", {"usd_per_unit": "abc", "valid_from": "2024-01-01"}),
        ("KWD", {"usd_per_unit": "3.2", "valid_from": "yesterday"}),
        ("USD", {"usd_per_unit": "2", "valid_from": "2024-01-01"}),
    ]
    for currency, body in bad:
        r = await pledges.client.put(f"/v1/fx-rates/{currency}", json=body, headers=writer)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (currency, body, r.text)
    rates = (await pledges.client.get("/v1/fx-rates", params={"currency": "QAR"}, headers=reader)).json()
    assert rates["items"] and rates["items"][0]["usd_per_unit"] == "0.2747252747", "seeded from the data file"
