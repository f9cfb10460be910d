"""An FTS flow as an agreement: its status, the country it goes to, and its route (boundary, plan, clusters).
The counting rules themselves are the projects service's (`aid_projects.funding.plan_rows`); here is only what
each FTS field means."""

from __future__ import annotations

import pycountry

from aid_contracts.pledges import FlowRoute
from aid_pledges.imports.fts_models import FtsFlow

# FTS status → agreement status. A commitment and a payment are both signed; a payment is also money received.
STATUS = {"pledge": "pledged", "commitment": "signed", "paid": "signed"}

# FTS location names pycountry does not know by name (FTS keeps UN M49 short names).
LOCATION_ALIASES = {
    "occupied Palestinian territory": "PS",
    "Turkey": "TR",
    "Democratic Republic of the Congo": "CD",
    "Bolivia (Plurinational State of)": "BO",
    "Venezuela (Bolivarian Republic of)": "VE",
    "Iran, Islamic Republic of": "IR",
    "United Republic of Tanzania": "TZ",
    "Micronesia (Federated States of)": "FM",
    "Netherlands (Kingdom of the)": "NL",
}


def status_of(flow: FtsFlow) -> str:
    return STATUS[flow.status]


def received(flow: FtsFlow) -> bool:
    """A paid flow is also money received (a disbursement of its whole amount)."""
    return flow.status == "paid"


def country_code(name: str) -> str | None:
    """ISO 3166-1 alpha-2 of an FTS location name, or None when it names no country (a region, "Global")."""
    if name in LOCATION_ALIASES:
        return LOCATION_ALIASES[name]
    try:
        return str(pycountry.countries.lookup(name).alpha_2)
    except LookupError:
        return None


def country_of(flow: FtsFlow) -> str | None:
    """The one country the flow goes to (None when it names none, or several)."""
    codes = {country_code(o.name) for o in flow.objects("destination", "Location")}
    codes.discard(None)
    return codes.pop() if len(codes) == 1 else None


def route_of(flow: FtsFlow) -> FlowRoute:
    """Where the flow's money goes, in FTS's terms: plans and clusters by their FTS ids."""
    plans = flow.ids("destination", "Plan")
    source_plans = flow.ids("source", "Plan")
    return FlowRoute(
        boundary=flow.boundary,
        one_country_year=flow.on_boundary == "single",
        plan=plans[0] if len(plans) == 1 else None,
        clusters=flow.ids("destination", "Cluster"),
        source_plan=source_plans[0] if len(source_plans) == 1 else None,
        source_clusters=flow.ids("source", "Cluster"),
    )
