"""The organisations page: every organisation once, with every role it plays — a donor, a Red Crescent society that
receives and implements, a partner account that became an organisation — in English and in Arabic; only for a
token that sees donors."""

from __future__ import annotations

from tests.console.test_views import _signed_in
from tests.helpers import auth, eventually

KRCS = {
    "name": "Kuwait Red Crescent Society",
    "names": {"ar": "جمعية الهلال الأحمر الكويتي"},
    "kind": "national_society",
    "country": "KW",
    "roles": ["recipient"],
}


async def test_organisations_in_every_role_in_english_and_arabic(platform, token) -> None:
    admin = auth(token("admin"))
    donor = {"name": "State of Kuwait", "names": {"ar": "دولة الكويت"}, "kind": "government", "country": "KW"}
    assert (await platform.pledges.client.post("/v1/donors", json=donor, headers=admin)).status_code == 201
    krcs = (await platform.pledges.client.post("/v1/organisations", json=KRCS, headers=admin)).json()

    async def heard_of_krcs() -> bool:  # the notifications service learns of it from its event
        body = {"name": KRCS["name"], "names": KRCS["names"], "organisation_id": krcs["id"]}
        r = await platform.notifications.client.post("/v1/partners", json=body, headers=admin)
        return r.status_code == 201

    await eventually(heard_of_krcs, timeout=10)
    await _signed_in(platform, token("admin"))

    async def both_roles() -> bool:  # and the pledges service of the partner account, under the same id
        return (
            'recipient</span>, <span class="role">implementing partner'
            in (await platform.client.get("/organisations?lang=en")).text
        )

    await eventually(both_roles, timeout=10)
    english = (await platform.client.get("/organisations?lang=en")).text
    assert 'href="/organisations"' in english and "State of Kuwait" in english and "government" in english
    assert "Red Cross / Red Crescent society" in english and "Kuwait" in english
    arabic = (await platform.client.get("/organisations?lang=ar")).text
    assert "جمعية الهلال الأحمر الكويتي" in arabic and "دولة الكويت" in arabic
    assert 'متلقٍّ</span>، <span class="role">شريك منفِّذ' in arabic and "حكومة" in arabic and "المنظمات" in arabic

    donors = (await platform.client.get("/organisations?lang=en&role=donor")).text
    assert "State of Kuwait" in donors and "Kuwait Red Crescent Society" not in donors
    assert '<option value="donor" selected>donor</option>' in donors
    unknown = await platform.client.get("/organisations?lang=en&role=benefactor&country=KW")
    assert unknown.status_code == 200 and "Kuwait Red Crescent Society" in unknown.text, "an unknown role: all of them"
    none = (await platform.client.get("/organisations?lang=ar&country=YE")).text
    assert "لا توجد منظمة تطابق هذه المرشحات" in none


async def test_a_partner_token_is_not_shown_the_register_of_who_gives(platform, token) -> None:
    admin = auth(token("admin"))
    partner = (
        await platform.notifications.client.post("/v1/partners", json={"name": "Qatar Charity"}, headers=admin)
    ).json()
    await _signed_in(platform, token("projects:read notifications:read", partner_id=partner["id"], subject="qc"))
    page = await platform.client.get("/organisations?lang=en")
    assert 'href="/organisations"' not in page.text and "does not allow" in page.text
