"""Kafka topics of the platform. Key = aggregate id on each."""

PLEDGES_TOPIC = "aid.pledges.v1"  # key: agreement id
PROJECTS_TOPIC = "aid.projects.v1"  # key: project id (pool events: the pool key)
ALERTS_TOPIC = "aid.alerts.v1"  # key: partner id
PARTNERS_TOPIC = "aid.partners.v1"  # key: partner id
