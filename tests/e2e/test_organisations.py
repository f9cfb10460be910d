"""One organisation identity across the services, spread by events over Kafka: an organisation created on the pledges
service gets a partner account under its own id on the notifications service; a partner account opened for no
known organisation becomes one on the pledges service; both end up with every role they play."""

from __future__ import annotations

from tests.helpers import eventually


async def test_an_organisation_and_its_partner_account_are_one_identity(stack) -> None:
    krcs = await stack.post(
        stack.pledges,
        "/v1/organisations",
        {
            "name": "Kuwait Red Crescent Society",
            "names": {"ar": "جمعية الهلال الأحمر الكويتي"},
            "kind": "national_society",
            "country": "KW",
            "roles": ["recipient"],
        },
    )

    async def account() -> dict | None:  # the notifications service hears of it within seconds
        body = {"name": krcs["name"], "names": krcs["names"], "organisation_id": krcs["id"]}
        r = await stack.http.post(stack.notifications_api.url + "/v1/partners", json=body, headers=stack.admin)
        assert r.status_code in (201, 422), r.text
        return r.json() if r.status_code == 201 else None

    partner = await eventually(account, timeout=30, interval=0.5)
    assert partner["id"] == krcs["id"]

    async def plays(organisation_id: str, roles: list[str]) -> bool:
        r = await stack.http.get(f"{stack.pledges.url}/v1/organisations/{organisation_id}", headers=stack.admin)
        return r.status_code == 200 and r.json()["roles"] == roles

    await eventually(lambda: plays(krcs["id"], ["recipient", "implementing_partner"]), timeout=30, interval=0.5)

    sarc = await stack.post(
        stack.notifications_api,
        "/v1/partners",
        {"name": "Syrian Arab Red Crescent", "names": {"ar": "الهلال الأحمر العربي السوري"}},
    )
    await eventually(lambda: plays(sarc["id"], ["implementing_partner"]), timeout=30, interval=0.5)
    got = await stack.get(stack.pledges, f"/v1/organisations/{sarc['id']}")
    assert got["names"] == {"ar": "الهلال الأحمر العربي السوري"}
