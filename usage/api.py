"""The JSON API for usage events: POST /api/v1/events, the product's way in."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from betas.apidoc import refuses
from betas.apikit import PREFIX, commit, require_scope
from betas.web import settings
from usage import events

blp = Blueprint(
    "usage_api", __name__, url_prefix=PREFIX, description="Usage events sent by the product."
)


class EventBatchSchema(Schema):
    """A batch of usage events; each event is checked by the service, so the CLI checks alike."""

    events = fields.List(
        fields.Raw(),
        required=True,
        metadata={
            "description": f"At most {events.MAX_BATCH:,} objects like "
            '{"id": "7f9c…", "account": "acme", "user": "u-42", "action": "opened", '
            '"object": "report", "place": "inbox", "metadata": {"plan": "pro"}, '
            '"occurred_at": "2026-10-02T14:30:00Z"}. id (1 to 128 characters, yours: an event '
            "sent again is a duplicate), account, action, object and occurred_at (with its "
            "zone, at most 5 minutes ahead) are required; metadata is an object of at most "
            "4 KB. A batch with any bad event stores nothing."
        },
    )


class IngestedSchema(Schema):
    """How many events were stored, and how many had been sent before."""

    accepted = fields.Int()
    duplicates = fields.Int()


@blp.route("/events", methods=["POST"])
@require_scope("events:write")
@refuses()
@blp.arguments(EventBatchSchema)
@blp.response(200, IngestedSchema)
def send_events(data):
    """Store a batch of events once each; 422 validation_failed names every bad field."""
    zone = settings().zone
    return commit(lambda s: events.ingest_items(s, data["events"], zone))
