"""Partners: registered and renamed by admins only, announced to the other services, each partner's token
seeing only its own organisation."""

from __future__ import annotations

import json
import uuid

from aid_contracts import PARTNERS_TOPIC
from tests.helpers import PROBLEM, auth, eventually
from tests.notifications.conftest import create_partner

KRCS_AR = "جمعية الهلال الأحمر الكويتي"


async def _announced(svc) -> list[dict]:
    """What the relay has published on aid.partners.v1, oldest first."""
    await svc.relay()
    return [json.loads(m.value) for m in svc.bus.messages(PARTNERS_TOPIC)]


async def test_a_registered_partner_keeps_its_arabic_name_and_is_announced(notifications, admin) -> None:
    r = await notifications.client.post(
        "/v1/partners", json={"name": "Kuwait Red Crescent Society", "names": {"ar": KRCS_AR}}, headers=admin
    )
    assert r.status_code == 201, r.text
    partner = r.json()
    assert partner["names"] == {"ar": KRCS_AR}
    read = (await notifications.client.get(f"/v1/partners/{partner['id']}", headers=admin)).json()
    assert read["name"] == "Kuwait Red Crescent Society" and read["names"]["ar"] == KRCS_AR

    events = await eventually(lambda: _announced(notifications))
    assert [e["type"] for e in events] == ["aid.partner.created"]
    assert events[0]["data"] == {
        "partner_id": partner["id"],
        "name": "Kuwait Red Crescent Society",
        "names": {"ar": KRCS_AR},
    }


async def test_a_rename_is_announced_and_an_empty_one_changes_nothing(notifications, admin) -> None:
    partner = await create_partner(notifications, admin, "Qatar Red Crescent")
    r = await notifications.client.patch(
        f"/v1/partners/{partner['id']}", json={"name": "Qatar Red Crescent Society"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["name"] == "Qatar Red Crescent Society"

    r = await notifications.client.patch(f"/v1/partners/{partner['id']}", json={}, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "nothing to change" in r.json()["detail"]

    events = await _announced(notifications)
    assert [e["type"] for e in events] == ["aid.partner.created", "aid.partner.updated"]
    assert events[1]["data"]["name"] == "Qatar Red Crescent Society"
    unchanged = (await notifications.client.get(f"/v1/partners/{partner['id']}", headers=admin)).json()
    assert unchanged["name"] == "Qatar Red Crescent Society"


async def test_a_partner_token_sees_only_its_own_and_changes_no_partner(notifications, admin, token) -> None:
    own = await create_partner(notifications, admin, "Egyptian Red Crescent")
    other = await create_partner(notifications, admin, "Qatar Charity")
    partner = auth(token("notifications:read notifications:write", partner_id=own["id"]))

    listed = (await notifications.client.get("/v1/partners", headers=partner)).json()["items"]
    assert [p["id"] for p in listed] == [own["id"]]
    assert (await notifications.client.get(f"/v1/partners/{own['id']}", headers=partner)).status_code == 200
    hidden = await notifications.client.get(f"/v1/partners/{other['id']}", headers=partner)
    assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM

    for method, path, body in (
        ("POST", "/v1/partners", {"name": "A partner it invented"}),
        ("PATCH", f"/v1/partners/{own['id']}", {"name": "Renamed by itself"}),
        ("PATCH", f"/v1/partners/{other['id']}", {"name": "Renamed by another"}),
    ):
        r = await notifications.client.request(method, path, json=body, headers=partner)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, (method, path)
    names = {p["name"] for p in (await notifications.client.get("/v1/partners", headers=admin)).json()["items"]}
    assert names == {"Egyptian Red Crescent", "Qatar Charity"}


async def test_an_unknown_partner_is_404_for_reading_and_renaming(notifications, admin) -> None:
    unknown = uuid.uuid4()
    for method, body in (("GET", None), ("PATCH", {"name": "Nobody"})):
        r = await notifications.client.request(method, f"/v1/partners/{unknown}", json=body, headers=admin)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        assert str(unknown) in r.json()["detail"]
