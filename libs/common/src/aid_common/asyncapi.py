"""An AsyncAPI 3.0 document generated from the event registry, never written by hand."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from aid_common.events import CLOUDEVENTS_CONTENT_TYPE, DEADLETTER_TOPIC, CloudEvent, EventRegistry, EventType


def _schema(model: type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    return schema


def _message_name(type_: str) -> str:
    return type_.replace(".", "_")


def _message(et: EventType) -> dict[str, Any]:
    """An event type as an AsyncAPI message: the CloudEvents envelope with its type, source and payload schema."""
    return {
        "name": et.type,
        "title": et.type,
        "summary": et.summary,
        "contentType": CLOUDEVENTS_CONTENT_TYPE,
        "bindings": {"kafka": {"key": {"type": "string", "description": f"payload field `{et.key_field}`"}}},
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEventEnvelope"},
                {
                    "type": "object",
                    "required": ["type", "source", "data"],
                    "properties": {
                        "type": {"const": et.type},
                        "source": {"const": et.source},
                        "data": {"$ref": f"#/components/schemas/{et.payload.__name__}"},
                    },
                },
            ]
        },
    }


def build_asyncapi(registry: EventRegistry, *, title: str = "Crisis-aid events", version: str = "1.0.0") -> dict:
    schemas: dict[str, Any] = {}
    envelope = _schema(CloudEvent, schemas)
    envelope["properties"].pop("data", None)
    schemas["CloudEventEnvelope"] = envelope
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for et in registry.all():
        name = _message_name(et.type)
        schemas[et.payload.__name__] = _schema(et.payload, schemas)
        messages[name] = _message(et)
        channel = channels.setdefault(
            et.topic.replace(".", "_"),
            {"address": et.topic, "description": f"Kafka topic {et.topic}; key = aggregate id", "messages": {}},
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    for channel_id, channel in channels.items():
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in channel["messages"]],
        }
    channels["aid_deadletter_v1"] = {
        "address": DEADLETTER_TOPIC,
        "description": "Messages a consumer could not handle. Headers: aid-error, aid-original-topic, "
        "aid-original-partition, aid-original-offset, aid-consumer. Value: the original bytes.",
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": title,
            "version": version,
            "description": "CloudEvents 1.0 (structured JSON) on Kafka. Amounts are decimal strings.",
        },
        "defaultContentType": CLOUDEVENTS_CONTENT_TYPE,
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def asyncapi_yaml(registry: EventRegistry) -> str:
    return yaml.safe_dump(build_asyncapi(registry), sort_keys=False, allow_unicode=True)
