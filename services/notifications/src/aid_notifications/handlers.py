"""Every event this service consumes. Subscription matching arrives with the notifications domain (issue 5)."""

from aid_common.consumer import Subscription
from aid_contracts import PLEDGES_TOPIC, PROJECTS_TOPIC

TOPICS: list[str] = [PLEDGES_TOPIC, PROJECTS_TOPIC]
SUBSCRIPTIONS: list[Subscription] = []
