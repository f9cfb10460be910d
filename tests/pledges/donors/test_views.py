from __future__ import annotations

from tests.helpers import PROBLEM
from tests.pledges.conftest import KUWAIT


async def test_arabic_and_emoji_names_round_trip(pledges, writer, reader) -> None:
    body = {**KUWAIT, "name": "Kuwait 🇰🇼", "names": {"ar": "دولة الكويت 🌙"}}
    created = (await pledges.client.post("/v1/donors", json=body, headers=writer)).json()
    fetched = (await pledges.client.get(f"/v1/donors/{created['id']}", headers=reader)).json()
    assert fetched["name"] == "Kuwait 🇰🇼" and fetched["names"] == {"ar": "دولة الكويت 🌙"}


async def test_bad_country_kind_and_language_are_422_naming_the_field(pledges, writer) -> None:
    for field, value in (("country", "XX"), ("kind", "alien"), ("names", {"zz": "x"}), ("name", "")):
        r = await pledges.client.post("/v1/donors", json={**KUWAIT, field: value}, headers=writer)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (field, r.text)
        assert any(e["location"].startswith(f"body.{field}") for e in r.json()["errors"]), r.json()


async def test_unknown_donor_is_404_and_listing_filters_and_pages(pledges, writer, reader) -> None:
    r = await pledges.client.get("/v1/donors/00000000-0000-0000-0000-000000000000", headers=reader)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    for i in range(5):
        await pledges.client.post(
            "/v1/donors", json={**KUWAIT, "name": f"D{i}", "country": "QA" if i % 2 else "KW"}, headers=writer
        )
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "country": "KW", **({"cursor": cursor} if cursor else {})}
        page = (await pledges.client.get("/v1/donors", params=params, headers=reader)).json()
        seen += [d["name"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["D0", "D2", "D4"]
    bad = await pledges.client.get("/v1/donors", params={"cursor": "garbage"}, headers=reader)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


async def test_donor_routes_need_tokens_and_scopes(pledges, reader) -> None:
    assert (await pledges.client.get("/v1/donors")).status_code == 401
    r = await pledges.client.post("/v1/donors", json=KUWAIT, headers=reader)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
