"""Runs a service's event handlers on a consumer group (`EventConsumer`): decoding (`decoding`), the lanes policy
(`lanes`), rounds of a batch (`rounds`) in their execution modes (`modes`), one by one with retries and dead
letters (`EventConsumer.process`)."""

from aid_common.consumer.event_consumer import EventConsumer

__all__ = ["EventConsumer"]
