"""What a caller may receive through events — the one place this rule lives.

- `aid.project.*`, `aid.appeal.*`, `aid.pool.*`, `aid.plan.*` — anyone with `notifications:read`, every partner:
  funding figures and plans' requirements are public in the humanitarian system (FTS publishes them);
- `aid.agreement.*`, `aid.disbursement.*`, `aid.organisation.*` — only a caller that also holds `pledges:read` (or
  `admin`): a donor's agreements (references, amounts, earmarks) are the donor's and the coordinators', and so is
  the register of who gives (as `GET /v1/organisations` needs `pledges:read`);
- `aid.alert.created`, `aid.partner.*` — nobody, as a webhook: alerts are the webhooks themselves (mirrored on
  Kafka `aid.alerts.v1` for integrations); partner accounts are internal.

Exports and reports follow the same rule (`sees_donors`): without `pledges:read` they carry funding figures and
never a donor's name, an agreement's reference or a pledge.

A subscription records what its creator (or the last caller who changed its types) was entitled to, and every
delivery is checked against that record again, so a subscription never receives more than the caller who set it
up could: an admin setting one up for a partner follows the same rule with the admin's scopes.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from aid_common.auth import Caller


class Audience(StrEnum):
    PUBLIC = "public"  # funding figures
    DONOR = "donor"  # agreements and disbursements
    INTERNAL = "internal"  # never delivered as a webhook


_BY_PREFIX = (
    ("aid.project.", Audience.PUBLIC),
    ("aid.appeal.", Audience.PUBLIC),
    ("aid.pool.", Audience.PUBLIC),
    ("aid.plan.", Audience.PUBLIC),
    ("aid.agreement.", Audience.DONOR),
    ("aid.disbursement.", Audience.DONOR),
    ("aid.organisation.", Audience.DONOR),
    ("aid.alert.", Audience.INTERNAL),
    ("aid.partner.", Audience.INTERNAL),
)


def audience(event_type: str) -> Audience:
    for prefix, who in _BY_PREFIX:
        if event_type.startswith(prefix):
            return who
    return Audience.INTERNAL  # a type this table does not know is not sent until it is placed here


def entitlement(caller: Caller) -> frozenset[Audience]:
    """The audiences whose events `caller` may receive."""
    granted = {Audience.PUBLIC}
    if caller.has("pledges:read"):
        granted.add(Audience.DONOR)
    return frozenset(granted)


def sees_donors(caller: Caller) -> bool:
    """Whether `caller` may see donors' agreements (names, references, pledges, per-agreement amounts) in an
    answer, an export or a report, and not only the funding figures everyone may read."""
    return Audience.DONOR in entitlement(caller)


def may_receive(granted: Iterable[str], event_type: str) -> bool:
    return audience(event_type) in set(granted)


def refused(granted: Iterable[str], event_types: Iterable[str]) -> list[str]:
    """The event types among `event_types` (exact types, already expanded) that `granted` does not cover."""
    return sorted(t for t in event_types if not may_receive(granted, t))
