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


async def test_an_export_reads_every_row_a_batch_at_a_time(sample) -> None:
    """Hardening item 13: exports loaded every row into memory. `batches` hands out every row once, in creation
    order, and the session forgets each batch before loading the next."""
    import datetime as dt
    import uuid

    from sqlalchemy import select

    from aid_common.db import transaction
    from aid_common.pagination import batches
    from tests.common.sample import Thing

    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    async with transaction(sample.runtime.sessions) as session:  # 1 050 rows, some sharing a created_at
        session.add_all(
            Thing(id=uuid.uuid4(), name=f"t{i:04d}", created_at=start + dt.timedelta(seconds=i // 3))
            for i in range(1050)
        )
    seen: list[str] = []
    held: list[int] = []
    async with sample.runtime.sessions() as session:
        async for batch in batches(session, select(Thing), Thing, size=400):
            held.append(len(session.identity_map))
            seen += [row[0].name for row in batch]
    assert held == [400, 400, 250]  # never more than a batch in the session
    assert sorted(seen) == [f"t{i:04d}" for i in range(1050)] and len(set(seen)) == 1050
