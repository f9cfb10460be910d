"""IATI 2.03 activities: one `iati-activity` per project, with transactions for what the ledger holds. Streamed
one activity at a time; validated against the official 2.03 XSD in the tests.

How the ledger maps onto IATI TransactionType codes (https://iatistandard.org/en/iati-standard/203/codelists/
transactiontype/), the reporting organisation being the coordinating agency that receives the money:

Transactions are dated by the day the money moved (an agreement's signing, amendment or cancellation; money
received), not the day it was recorded here.

- an allocation from a signed agreement (a reversal: negative) → 11 Incoming Commitment, the donor as provider:
  a signed agreement commits the donor's money to the activity;
- money received (a disbursement's share) → 1 Incoming Funds, the donor as provider: money that arrived;
- a pledged agreement naming the project → 13 Incoming Pledge, the donor as provider: announced, not committed.

A caller who may not see donors' agreements (aid_common.visibility.sees_donors) gets the same activities and
amounts with no provider organisation, no agreement reference and no pledges.

Activity status: planned → 1 (Pipeline/identification), active → 2 (Implementation), closed → 4 (Closed).
Sectors: the humanitarian global clusters (vocabulary 10) where one exists, else this platform's own code
(vocabulary 99, reporting organisation).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal

from lxml import etree
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_contracts.types import not_a_character
from aid_projects.funding.models import AgreementFunds, LedgerEntry, ReceivedEntry
from aid_projects.projects.models import Project

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STATUS = {"planned": "1", "active": "2", "closed": "4"}
ROLE = {"funding": "1", "accountable": "2", "implementing": "4"}
CLUSTERS = {
    "camp-management": "CCM", "early-recovery": "ERY", "education": "EDU", "emergency-telecommunications": "TEL",
    "food-security": "FSC", "health": "HEA", "logistics": "LOG", "nutrition": "NUT", "protection": "PRO",
    "shelter": "SHL", "wash": "WSH",
}  # fmt: skip


def xml_safe(text: str) -> str:
    """`text` as XML 1.0 can carry it: what no XML may hold (control characters, lone surrogates, noncharacters —
    refused at input, but older rows may hold them) becomes U+FFFD, instead of breaking the whole export."""
    return "".join("\ufffd" if _not_xml(ch) else ch for ch in text)


def _not_xml(ch: str) -> bool:
    return (ord(ch) < 0x20 and ch not in "\t\n\r") or not_a_character(ch)


def _text(parent: etree._Element, tag: str, english: str, names: dict[str, str] | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    etree.SubElement(element, "narrative").text = xml_safe(english)
    for lang, name in sorted((names or {}).items()):
        etree.SubElement(element, "narrative", {XML_LANG: lang}).text = xml_safe(name)
    return element


def _money(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.01")), "f")


def _transaction(
    activity: etree._Element, *, code: str, day: dt.date, amount: Decimal, donor: dict | None, what: str
) -> None:
    t = etree.SubElement(activity, "transaction")
    etree.SubElement(t, "transaction-type", code=code)
    etree.SubElement(t, "transaction-date", {"iso-date": day.isoformat()})
    etree.SubElement(t, "value", currency="USD", **{"value-date": day.isoformat()}).text = _money(amount)
    _text(t, "description", what)
    if donor is not None:
        _text(t, "provider-org", donor.get("name") or "unknown donor", donor.get("names") or {})


def activity(
    project: Project,
    *,
    reporting: tuple[str, str],
    commitments: list[tuple[dt.date, Decimal, dict | None, str | None]],
    received: list[tuple[dt.date, Decimal, dict | None]],
    pledges: list[tuple[dt.date, Decimal, dict, str]],
) -> bytes:
    ref, name = reporting
    a = etree.Element(
        "iati-activity",
        {
            "last-updated-datetime": project.updated_at.replace(microsecond=0).isoformat(),
            XML_LANG: "en",
            "default-currency": "USD",
            "humanitarian": "1",
        },
    )
    etree.SubElement(a, "iati-identifier").text = f"{ref}-{project.code}"
    reporting_org = _text(a, "reporting-org", name)
    reporting_org.set("ref", ref)
    reporting_org.set("type", "40")  # multilateral
    _text(a, "title", project.title, project.names)
    description = f"{project.title} ({project.region})" if project.region else project.title
    _text(a, "description", description).set("type", "1")
    roles = [p for p in project.partners if p.get("role") in ROLE] or [{"name": name, "role": "accountable"}]
    for p in roles:
        org = _text(a, "participating-org", p["name"], p.get("names"))
        org.set("role", ROLE[p["role"]])
    etree.SubElement(a, "activity-status", code=STATUS.get(project.status, "2"))
    etree.SubElement(a, "activity-date", {"type": "2", "iso-date": project.created_at.date().isoformat()})
    etree.SubElement(a, "recipient-country", code=project.country, percentage="100")
    if project.sector in CLUSTERS:
        etree.SubElement(a, "sector", vocabulary="10", code=CLUSTERS[project.sector], percentage="100")
    else:
        etree.SubElement(a, "sector", vocabulary="99", code=project.sector, percentage="100")
    budget = etree.SubElement(a, "budget", type="1", status="1")
    start = project.created_at.date()
    etree.SubElement(budget, "period-start", {"iso-date": start.isoformat()})
    etree.SubElement(budget, "period-end", {"iso-date": (start + dt.timedelta(days=364)).isoformat()})
    etree.SubElement(budget, "value", currency="USD", **{"value-date": start.isoformat()}).text = _money(
        project.requirements_usd
    )
    for day, amount, donor, reference in commitments:
        what = f"allocation of agreement {reference}" if reference else "allocation of an agreement"
        _transaction(a, code="11", day=day, amount=amount, donor=donor, what=what)
    for day, amount, donor in received:
        _transaction(a, code="1", day=day, amount=amount, donor=donor, what="funds received")
    for day, amount, donor, reference in pledges:
        _transaction(a, code="13", day=day, amount=amount, donor=donor, what=f"pledge {reference}")
    return etree.tostring(a, encoding="unicode").encode()


async def activities(
    session: AsyncSession, projects: AsyncIterator[list[Project]], *, reporting: tuple[str, str], donors: bool
) -> AsyncIterator[bytes]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    yield b'<?xml version="1.0" encoding="UTF-8"?>\n'
    yield f'<iati-activities version="2.03" generated-datetime="{now}">\n'.encode()
    async for chunk in projects:
        ids = [p.id for p in chunk]
        commitments: dict = defaultdict(list)
        rows = await session.execute(
            select(LedgerEntry, AgreementFunds)
            .join(AgreementFunds, AgreementFunds.agreement_id == LedgerEntry.agreement_id)
            .where(LedgerEntry.project_id.in_(ids))
            .order_by(LedgerEntry.effective_on, LedgerEntry.created_at)
        )
        for entry, agreement in rows.all():
            who = (agreement.donor, agreement.reference) if donors else (None, None)
            commitments[entry.project_id].append((entry.effective_on, entry.amount_usd, *who))
        received: dict = defaultdict(list)
        rows = await session.execute(
            select(ReceivedEntry, AgreementFunds)
            .join(AgreementFunds, AgreementFunds.agreement_id == ReceivedEntry.agreement_id)
            .where(ReceivedEntry.project_id.in_(ids))
            .order_by(ReceivedEntry.effective_on, ReceivedEntry.created_at)
        )
        for entry, agreement in rows.all():
            received[entry.project_id].append(
                (entry.effective_on, entry.amount_usd, agreement.donor if donors else None)
            )
        pledges: dict = defaultdict(list)
        pledged_rows = await session.execute(
            select(AgreementFunds).where(AgreementFunds.status == "pledged", AgreementFunds.earmark_project_id.in_(ids))
        )
        for pledged in pledged_rows.scalars() if donors else ():
            pledges[pledged.earmark_project_id].append(
                (pledged.created_at.date(), pledged.amount_usd, pledged.donor, pledged.reference)
            )
        for project in chunk:
            yield (
                activity(
                    project,
                    reporting=reporting,
                    commitments=commitments[project.id],
                    received=received[project.id],
                    pledges=pledges[project.id],
                )
                + b"\n"
            )
    yield b"</iati-activities>\n"
