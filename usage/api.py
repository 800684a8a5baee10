"""The JSON API of usage: POST /api/v1/events (the product's way in), metric values, activity."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validates_schema

from betas import lifecycle
from betas.apidoc import NO_BETA, Refusal, refuses
from betas.apikit import PREFIX, commit, require_scope
from betas.db import get_session, stores
from betas.errors import NotFound
from betas.web import configured_today, settings
from usage import activity, events, values

blp = Blueprint(
    "usage_api", __name__, url_prefix=PREFIX, description="Usage events sent by the product."
)


class EventList(fields.Raw):
    """A JSON array of events, kept as sent: `usage.events` checks every event, as for the CLI.

    Loading a thousand items one by one as marshmallow fields cost more than checking them.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        return value


class EventBatchSchema(Schema):
    """A batch of usage events; each event is checked by the service, so the CLI checks alike."""

    events = EventList(
        required=True,
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": f"At most {events.MAX_BATCH:,} objects like "
            '{"id": "7f9c…", "account": "acme", "user": "u-42", "action": "opened", '
            '"object": "report", "place": "inbox", "metadata": {"plan": "pro"}, '
            '"occurred_at": "2026-10-02T14:30:00Z"}. id (1 to 128 characters, yours: an event '
            "sent again is a duplicate), account, action, object and occurred_at (with its "
            "zone, at most 5 minutes ahead) are required; metadata is an object of at most "
            "4 KB. A batch with any bad event stores nothing.",
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


# Metric values


class ValuesQuerySchema(Schema):
    """The days asked for: from launch to today unless narrowed."""

    first = fields.Date(data_key="from", load_default=None, metadata={"description": "YYYY-MM-DD"})
    last = fields.Date(data_key="to", load_default=None, metadata={"description": "YYYY-MM-DD"})

    @validates_schema
    def _in_order(self, data, **_kwargs):
        if data["first"] and data["last"] and data["last"] < data["first"]:
            raise ValidationError("Must be on or after from.", "to")


class DayValueSchema(Schema):
    """One day: the members at its end, the accounts among them that meet the rule, the value."""

    day = fields.Date()
    members = fields.Int()
    accounts = fields.Int()
    value = fields.Float(
        allow_none=True,
        metadata={"description": "A percent of the members, or a count; null without members."},
    )


class LatestSchema(DayValueSchema):
    """The latest day, and whether it meets the target (null: not measured)."""

    met = fields.Bool(allow_none=True)


class AllMembersSchema(Schema):
    """Every member of the beta together."""

    latest = fields.Method("_latest", metadata={"description": "The latest day, as in cohorts."})
    days = fields.List(fields.Nested(DayValueSchema))

    def _latest(self, series: values.Series) -> dict | None:
        latest = series.latest
        if latest is None:
            return None
        return LatestSchema().dump({**vars(latest), "met": series.met})


class SeriesSchema(AllMembersSchema):
    """One cohort's days."""

    cohort = fields.Str(metadata={"description": "The cohort's slug."})
    kind = fields.Str()


class MetricValuesSchema(Schema):
    """A metric, its status against the target, and its days per cohort and for all members."""

    id = fields.Function(lambda v: v.metric.id)
    name = fields.Function(lambda v: v.metric.name)
    stage = fields.Function(lambda v: v.metric.stage.value)
    target = fields.Function(lambda v: float(v.metric.target))
    unit = fields.Function(lambda v: v.metric.unit.value)
    direction = fields.Function(lambda v: v.metric.direction.value)
    status = fields.Function(
        lambda v: v.status.value, metadata={"description": "met, not_met or not_measured"}
    )
    cohorts = fields.List(fields.Nested(SeriesSchema))
    all_members = fields.Nested(AllMembersSchema)


class BetaValuesSchema(Schema):
    """Every instrumented metric of a beta, per cohort per day, from launch to today."""

    beta = fields.Function(lambda v: v.beta.key)
    first = fields.Date(data_key="from", allow_none=True)
    last = fields.Date(data_key="to", allow_none=True)
    metrics = fields.List(fields.Nested(MetricValuesSchema))


@blp.route("/betas/<key>/metrics/values")
@stores
@require_scope("betas:read")
@refuses(
    NO_BETA,
    Refusal(
        422, "validation_failed", "from or to is not a date (YYYY-MM-DD), or to is before from."
    ),
)
@blp.arguments(ValuesQuerySchema, location="query")
@blp.response(200, BetaValuesSchema)
def metric_values(query, key):
    """Read each metric's values per cohort per day, against its target; 422 on a bad date."""
    beta = lifecycle.get_beta(get_session(), key)
    today, zone = configured_today(), settings().zone
    # A commit: the values computed from the rollup are stored for the next request.
    return commit(lambda s: values.beta_values(s, beta, today, zone, query["first"], query["last"]))


# What an account has and hasn't done


class KindUsageSchema(Schema):
    """The account's events of one kind since it joined."""

    action = fields.Str()
    object = fields.Str()
    place = fields.Str(metadata={"description": "'' for none."})
    count = fields.Int()
    days = fields.Int(metadata={"description": "The days with one such event."})
    last_at = fields.DateTime()


class MetricCheckSchema(Schema):
    """Whether the account counts today for an instrumented metric (meets its rule)."""

    id = fields.Function(lambda c: c.metric.id)
    name = fields.Function(lambda c: c.metric.name)
    counts = fields.Bool()


class ActivitySchema(Schema):
    """An account's usage in a beta since it joined, and the metrics it counts for today."""

    account = fields.Str(attribute="membership.account.external_id")
    joined_at = fields.DateTime(
        attribute="membership.joined_at",
        allow_none=True,
        metadata={"description": "null: invited, never joined."},
    )
    last_seen_at = fields.DateTime(
        allow_none=True, metadata={"description": "Its latest event since joining."}
    )
    events = fields.List(fields.Nested(KindUsageSchema))
    metrics = fields.List(fields.Nested(MetricCheckSchema))


@blp.route("/betas/<key>/members/<path:account>/activity")
@require_scope("members:read")
@refuses(Refusal.of(NotFound, "No beta has this key, or the account is not in it."))
@blp.response(200, ActivitySchema)
def member_activity(key, account):
    """Read what the account did in the beta since joining, and which metrics it counts for."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    return activity.member_activity(session, beta, account, configured_today())
