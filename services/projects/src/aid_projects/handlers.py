"""Every event this service consumes. The allocation handlers arrive with the projects domain (issue 4)."""

from aid_common.consumer import Subscription
from aid_contracts import PLEDGES_TOPIC

TOPICS: list[str] = [PLEDGES_TOPIC]
SUBSCRIPTIONS: list[Subscription] = []
