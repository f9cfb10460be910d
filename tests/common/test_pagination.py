"""Keyset pagination: pages cover every row once, in creation order, even when rows are added meanwhile; a cursor
the API did not hand out is a 422."""

from __future__ import annotations

from tests.helpers import PROBLEM, auth

URL = "/v1/stored-things"


async def test_pages_cover_every_row_once_while_rows_are_added(sample, token) -> None:
    headers = auth(token("things:write"))
    for i in range(5):
        assert (await sample.client.post(URL, json={"name": f"t{i}", "count": i}, headers=headers)).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await sample.client.get(URL, params=params, headers=headers)
        assert r.status_code == 200
        seen += [t["name"] for t in r.json()["items"]]
        if len(seen) == 2:  # a row created after the first page comes last, and nothing shifts
            await sample.client.post(URL, json={"name": "late", "count": 9}, headers=headers)
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["t0", "t1", "t2", "t3", "t4", "late"]


async def test_a_cursor_the_api_did_not_hand_out_is_422(sample, token) -> None:
    r = await sample.client.get(URL, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auth(token("things:write")))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM and "cursor" in r.json()["detail"]
