"""Events of the pledges service, on aid.pledges.v1, key = agreement id (organisations: their id). Each carries
everything a consumer needs (donor, amounts in the original currency and in USD, the rate, the earmark): no
call-backs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel

from aid_common.events import registry
from aid_contracts.topics import PLEDGES_TOPIC
from aid_contracts.types import CountryCode, CurrencyCode, Money, Names, Rate, Sector

SOURCE = "/pledges"


class Earmark(BaseModel):
    """From tight to loose: a project; a country (+ sector); an appeal pillar; an appeal; nothing (unearmarked)."""

    project_id: uuid.UUID | None = None
    country: CountryCode | None = None
    sector: Sector | None = None
    appeal: str | None = None
    pillar: str | None = None


class FlowRoute(BaseModel):
    """Where an agreement's money goes as OCHA FTS counts it (`aid_projects.funding.plan_rows` holds the rules):
    into the country from outside (incoming) or between organisations inside it (internal); whether it belongs to
    one country and year (FTS `onBoundary: single`) or spans several (`shared`: counted in no country's table);
    its destination plan and plan clusters, and for money moved inside a plan, where it came from. Plans and
    clusters are named by their keys (for imported flows, FTS's plan and cluster ids)."""

    boundary: Literal["incoming", "internal", "outgoing"] = "incoming"
    one_country_year: bool = True
    plan: str | None = None
    clusters: list[str] = []
    source_plan: str | None = None
    source_clusters: list[str] = []


class DonorRef(BaseModel):
    id: uuid.UUID
    name: str
    names: Names = {}
    kind: str
    country: CountryCode | None = None  # unknown for some organisations FTS names (a UN agency, a pooled fund)


class AgreementFacts(BaseModel):
    agreement_id: uuid.UUID
    donor: DonorRef
    reference: str
    title: str
    status: Literal["pledged", "signed", "cancelled"]
    amount: Money
    currency: CurrencyCode
    fx_rate: Rate
    amount_usd: Money
    earmark: Earmark
    # Where the money goes as FTS counts it (imported flows); None: an incoming flow to the earmark's country,
    # plan (its appeal) and cluster (its pillar).
    route: FlowRoute | None = None
    recipient_id: uuid.UUID | None = None  # the organisation that receives it, when known (an organisation id)


@registry.register(
    "aid.agreement.pledged",
    topic=PLEDGES_TOPIC,
    source=SOURCE,
    key_field="agreement_id",
    summary="A donor announced an agreement; not yet counted as funding.",
)
class AgreementPledged(AgreementFacts):
    pledged_on: dt.date


@registry.register(
    "aid.agreement.signed",
    topic=PLEDGES_TOPIC,
    source=SOURCE,
    key_field="agreement_id",
    summary="An agreement was signed: its USD amount now counts as funding and is allocated to projects.",
)
class AgreementSigned(AgreementFacts):
    signed_on: dt.date


@registry.register(
    "aid.agreement.amended",
    topic=PLEDGES_TOPIC,
    source=SOURCE,
    key_field="agreement_id",
    summary="The amount of an agreement changed; `delta_usd` is the difference to allocate or reverse.",
)
class AgreementAmended(AgreementFacts):
    previous_amount: Money
    previous_amount_usd: Money
    delta: Money
    delta_usd: Money
    amended_on: dt.date


@registry.register(
    "aid.agreement.cancelled",
    topic=PLEDGES_TOPIC,
    source=SOURCE,
    key_field="agreement_id",
    summary="An agreement was cancelled: every allocation and pool balance of it is reversed.",
)
class AgreementCancelled(AgreementFacts):
    was_signed: bool
    reason: str
    cancelled_on: dt.date


@registry.register(
    "aid.disbursement.received",
    topic=PLEDGES_TOPIC,
    source=SOURCE,
    key_field="agreement_id",
    summary="Money was received against a signed agreement (a paid contribution).",
)
class DisbursementReceived(BaseModel):
    disbursement_id: uuid.UUID
    agreement_id: uuid.UUID
    donor: DonorRef
    reference: str
    amount: Money
    currency: CurrencyCode
    fx_rate: Rate
    amount_usd: Money
    disbursed_usd_total: Money
    agreement_amount_usd: Money
    earmark: Earmark
    received_on: dt.date


class PlanCluster(BaseModel):
    key: str  # FTS cluster id
    name: str
    requirements_usd: Money | None = None
    published_funding_usd: Money | None = None


@registry.register(
    "aid.plan.published",
    topic=PLEDGES_TOPIC,
    source=SOURCE,
    key_field="fts_plan_id",
    summary="An OCHA FTS plan's requirements in one country, from an imported FTS table: the plan as a whole "
    "(`plan_row`) and/or its clusters (`clusters`), with the funding FTS published beside them.",
)
class PlanPublished(BaseModel):
    fts_plan_id: str
    code: str
    name: str
    plan_type: str | None = None
    year: int
    country: CountryCode
    plan_row: bool = False  # the plan's own row was in the table: its requirements and published funding apply
    requirements_usd: Money | None = None
    published_funding_usd: Money | None = None
    clusters: list[PlanCluster] | None = None  # None: the table listed no clusters


class OrganisationFacts(BaseModel):
    """An organisation in every role it plays — donor, recipient, implementing partner, pooled fund — under one
    id across services: a partner account's id is its organisation's id."""

    organisation_id: uuid.UUID
    name: str
    names: Names = {}
    kind: str
    country: CountryCode | None = None
    roles: list[Literal["donor", "recipient", "implementing_partner", "pooled_fund"]]
    fts_org_id: str | None = None
    fts_types: list[str] = []


@registry.register(
    "aid.organisation.created",
    topic=PLEDGES_TOPIC,
    source=SOURCE,
    key_field="organisation_id",
    summary="An organisation became known: created by hand, named by an imported FTS flow, or a new partner account.",
)
class OrganisationCreated(OrganisationFacts):
    pass


@registry.register(
    "aid.organisation.updated",
    topic=PLEDGES_TOPIC,
    source=SOURCE,
    key_field="organisation_id",
    summary="An organisation's names, country or roles changed (e.g. a recipient that now also gives).",
)
class OrganisationUpdated(OrganisationFacts):
    pass
