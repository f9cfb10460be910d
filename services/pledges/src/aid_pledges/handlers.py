"""Every event this service consumes. The pledges service is the source of agreements: it consumes none."""

from aid_common.consumer import Subscription

SUBSCRIPTIONS: list[Subscription] = []
