"""One partner identity across services: project roles reference partner accounts (names from the account), a
partner lists the projects it holds a role in, and its token changes those projects only."""

from __future__ import annotations

import uuid

from aid_common.bus import IncomingMessage
from aid_common.events import registry
from aid_contracts import PARTNERS_TOPIC
from aid_contracts.notifications import PartnerCreated, PartnerUpdated
from tests.helpers import PROBLEM, auth
from tests.projects.conftest import create_project

QATAR_CHARITY = uuid.uuid4()


async def account(svc, partner_id: uuid.UUID, name: str, kind=PartnerCreated) -> None:
    event = registry.envelope(kind(partner_id=partner_id, name=name, names={"ar": "قطر الخيرية"}))[1]
    message = IncomingMessage(topic=PARTNERS_TOPIC, partition=0, offset=0, key=event.subject, value=event.to_json())
    assert await svc.runtime.consumer.process(message) == "handled"


async def test_roles_reference_accounts_and_a_partner_lists_its_projects(projects, writer) -> None:
    await account(projects, QATAR_CHARITY, "Qatar Charity")
    role = [{"partner_id": str(QATAR_CHARITY), "role": "implementing"}]
    ours = await create_project(projects, writer, "SY-H-1", "600000.00", partners=role)
    await create_project(projects, writer, "SY-H-2", "400000.00", partners=[])
    assert ours["partners"] == [
        {
            "partner_id": str(QATAR_CHARITY),
            "name": "Qatar Charity",
            "names": {"ar": "قطر الخيرية"},
            "role": "implementing",
        }
    ]
    listed = await projects.client.get("/v1/projects", params={"partner_id": str(QATAR_CHARITY)}, headers=writer)
    assert [p["code"] for p in listed.json()["items"]] == ["SY-H-1"]
    unknown = [{"partner_id": str(uuid.uuid4()), "role": "implementing"}]
    r = await projects.client.post("/v1/projects", json={**_body("SY-H-3"), "partners": unknown}, headers=writer)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM and "partner event" in r.json()["detail"]
    await account(projects, QATAR_CHARITY, "Qatar Charity (QC)", kind=PartnerUpdated)
    renamed = (await projects.client.get(f"/v1/projects/{ours['id']}", headers=writer)).json()
    assert renamed["partners"][0]["name"] == "Qatar Charity (QC)"


async def test_a_free_text_partner_is_linked_when_its_account_appears(projects, writer) -> None:
    named = [{"name": "Qatar Charity", "names": {"ar": "قطر الخيرية"}, "role": "implementing"}]
    project = await create_project(projects, writer, "SY-H-1", "600000.00", partners=named)
    assert project["partners"][0]["partner_id"] is None
    await account(projects, QATAR_CHARITY, "Qatar Charity")
    linked = (await projects.client.get(f"/v1/projects/{project['id']}", headers=writer)).json()
    assert linked["partners"][0]["partner_id"] == str(QATAR_CHARITY)
    listed = await projects.client.get("/v1/projects", params={"partner_id": str(QATAR_CHARITY)}, headers=writer)
    assert [p["code"] for p in listed.json()["items"]] == ["SY-H-1"]


async def test_a_partner_token_changes_its_own_project_only(projects, writer, token) -> None:
    await account(projects, QATAR_CHARITY, "Qatar Charity")
    ours = await create_project(
        projects, writer, "SY-H-1", "600000.00", partners=[{"partner_id": str(QATAR_CHARITY), "role": "implementing"}]
    )
    theirs = await create_project(projects, writer, "SY-H-2", "400000.00")
    partner = auth(token("projects:write projects:read", partner_id=QATAR_CHARITY))
    described = {"title": "Primary health care, Idlib", "names": {"ar": "الرعاية الصحية الأولية في إدلب"}}
    r = await projects.client.patch(f"/v1/projects/{ours['id']}", json=described, headers=partner)
    assert r.status_code == 200 and r.json()["names"]["ar"] == described["names"]["ar"]
    r = await projects.client.patch(f"/v1/projects/{theirs['id']}", json={"title": "mine now"}, headers=partner)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM and "holds no role" in r.json()["detail"]
    assert (await projects.client.get(f"/v1/projects/{theirs['id']}", headers=writer)).json()["title"] != "mine now"


async def test_a_partner_token_changes_no_partner_list_requirements_or_status(projects, writer, token) -> None:
    """Hardening item 5: a partner could remove the accountable partner, or raise requirements and so draw pooled
    money across countries. Those stay for coordinators."""
    await account(projects, QATAR_CHARITY, "Qatar Charity")
    ours = await create_project(
        projects, writer, "SY-H-1", "600000.00", partners=[{"partner_id": str(QATAR_CHARITY), "role": "implementing"}]
    )
    partner = auth(token("projects:write projects:read", partner_id=QATAR_CHARITY))
    for change in (
        {"requirements_usd": "9000000.00"},
        {"status": "closed"},
        {"partners": [{"partner_id": str(QATAR_CHARITY), "role": "accountable"}]},
        {"title": "Health", "requirements_usd": "1.00"},  # one coordinator's field refuses the whole change
    ):
        r = await projects.client.patch(f"/v1/projects/{ours['id']}", json=change, headers=partner)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, change
        assert "for a coordinator" in r.json()["detail"]
    after = (await projects.client.get(f"/v1/projects/{ours['id']}", headers=writer)).json()
    assert (after["requirements_usd"], after["status"], after["title"]) == ("600000.00", "active", ours["title"])
    assert [p["role"] for p in after["partners"]] == ["implementing"]
    r = await projects.client.patch(f"/v1/projects/{ours['id']}", json={"status": "closed"}, headers=writer)
    assert r.status_code == 200, "a coordinator still can"


def _body(code: str) -> dict:
    from tests.projects.conftest import project_body

    return project_body(code, "1000.00", partners=[])
