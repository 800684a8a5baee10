"""The JSON API for betas under /api/v1, described by the OpenAPI document it generates.

flask-smorest validates bodies with marshmallow schemas and writes /api/v1/openapi.json from the
same schemas, so the document cannot drift from what the API accepts.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from betas import lifecycle, metrics
from betas.apidoc import NO_BETA, NOT_EDITOR, Refusal, public, refuses
from betas.apikit import PREFIX, commit, require_scope, slug_field
from betas.auth.web import current_actor
from betas.db import get_session
from betas.errors import (
    Conflict,
    ExtensionRefused,
    Forbidden,
    Invalid,
    LaunchRefused,
    NotFound,
)
from betas.models import (
    NAME_MAX,
    TEXT_MAX,
    BusinessOutcome,
    Direction,
    MetricStage,
    MetricUnit,
    Risk,
)
from betas.web import configured_today, launch_requirements, settings

blp = Blueprint("api", __name__, url_prefix=PREFIX, description="Betas, their framing and life.")


def _values(enum_cls) -> list[str]:
    return [member.value for member in enum_cls]


# Schemas


class MetricSchema(Schema):
    """A success metric and its target."""

    id = fields.Int(dump_only=True)
    name = fields.Str(required=True, validate=validate.Length(1, NAME_MAX))
    stage = fields.Str(required=True, validate=validate.OneOf(_values(MetricStage)))
    counts = fields.Str(load_default="", validate=validate.Length(max=TEXT_MAX))
    target = fields.Float(required=True)
    unit = fields.Str(required=True, validate=validate.OneOf(_values(MetricUnit)))
    direction = fields.Str(
        load_default=Direction.AT_LEAST.value, validate=validate.OneOf(_values(Direction))
    )
    # Checked by the lifecycle, as every door gives it, with a detail per field (rule.events.0).
    rule = fields.Dict(
        load_default=None,
        allow_none=True,
        metadata={
            "description": 'Which events count and when an account counts: {"events": '
            '[{"action", "object", "place"?}] (1 to 10), "at_least": 1 to 1,000,000, "per": '
            '"event" | "day", "window_days": 7 | 14 | 28 | null (since joining)}; null: not '
            "instrumented (a beta launches only when every metric has one)."
        },
    )


class MetricChangesSchema(MetricSchema):
    """Some fields of a metric to change."""


class ExtensionSchema(Schema):
    """A deadline extension with its reason."""

    old_deadline = fields.Date(dump_only=True)
    new_deadline = fields.Date(required=True)
    reason = fields.Str(required=True, validate=validate.Length(1, TEXT_MAX))
    by = fields.Function(lambda ext: ext.user.email, dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class BetaSchema(Schema):
    """A beta as the API reads and writes it."""

    key = slug_field()
    name = fields.Str(required=True, validate=validate.Length(1, NAME_MAX))
    state = fields.Str(dump_only=True)
    overdue = fields.Function(
        lambda beta: lifecycle.is_overdue(beta, configured_today()), dump_only=True
    )
    decision_deadline = fields.Date(allow_none=True)
    problem = fields.Str(validate=validate.Length(max=TEXT_MAX))
    learning_goals = fields.Str(validate=validate.Length(max=TEXT_MAX))
    customer_outcome = fields.Str(validate=validate.Length(max=TEXT_MAX))
    business_outcomes = fields.List(fields.Str(validate=validate.OneOf(_values(BusinessOutcome))))
    risk = fields.Str(validate=validate.OneOf(_values(Risk)))
    owner = fields.Function(
        lambda beta: beta.owner.email, deserialize=lambda email: email, validate=validate.Email()
    )
    metrics = fields.List(fields.Nested(MetricSchema), dump_only=True)
    extensions = fields.List(fields.Nested(ExtensionSchema), dump_only=True)


class BetaChangesSchema(BetaSchema):
    """Some fields of a beta to change; the key only while it is a draft."""


class BetaListSchema(Schema):
    """Every beta, most urgent first."""

    betas = fields.List(fields.Nested(BetaSchema))


# The refusals that several routes share
BAD_FRAMING = Refusal.of(
    Invalid,
    "The name is blank, no user has the owner's email, the owner is not an active PM or admin, "
    "or a draft's decision deadline has passed.",
)
DECIDED = Refusal.of(Conflict, "The beta has been decided: its record no longer changes.")
BAD_METRIC = Refusal.of(
    Invalid, "The name is blank, the target is out of range for its unit, or the rule is not valid."
)


def _framing(data: dict) -> dict:
    """Resolve the owner's email to a user; the rest passes to the lifecycle as it is."""
    if "owner" in data:
        data["owner"] = lifecycle.resolve_owner(get_session(), data["owner"])
    return data


# Routes


class HealthSchema(Schema):
    """The server is up."""

    status = fields.Str()


@blp.route("/health")
@public
@blp.response(200, HealthSchema)
def health():
    """Answer that the server is up: no database, no token (the benchmark's baseline)."""
    return {"status": "ok"}


@blp.route("/betas")
class Betas(MethodView):
    """The betas."""

    @require_scope("betas:read")
    @blp.response(200, BetaListSchema)
    def get(self):
        """List every beta, most urgent first."""
        today = configured_today()
        betas = sorted(
            lifecycle.list_betas(get_session()), key=lambda b: lifecycle.urgency(b, today)
        )
        return {"betas": betas}

    @require_scope("betas:write")
    @refuses(
        Refusal.of(Forbidden, "The token's user is not a PM or an admin: only they frame betas."),
        Refusal.of(Conflict, "Another beta has this key."),
        BAD_FRAMING,
    )
    @blp.arguments(BetaSchema)
    @blp.response(201, BetaSchema)
    def post(self, data):
        """Frame a new draft beta (PMs and admins)."""
        key = data.pop("key")
        return commit(
            lambda s: lifecycle.create_beta(
                s, current_actor(), key, today=configured_today(), **_framing(data)
            )
        )


@blp.route("/betas/<key>")
class BetaItem(MethodView):
    """One beta."""

    @require_scope("betas:read")
    @refuses(NO_BETA)
    @blp.response(200, BetaSchema)
    def get(self, key):
        """Read a beta with its metrics and extensions."""
        return lifecycle.get_beta(get_session(), key)

    @require_scope("betas:write")
    @refuses(
        NO_BETA,
        NOT_EDITOR,
        DECIDED,
        Refusal.of(Conflict, "The key is taken, or fixed since launch."),
        Refusal.of(Conflict, "A running beta's deadline moves only by an extension."),
        BAD_FRAMING,
        Refusal.of(Invalid, "The problem or learning goals of a launched beta would be cleared."),
    )
    @blp.arguments(BetaChangesSchema(partial=True))
    @blp.response(200, BetaSchema)
    def patch(self, data, key):
        """Change a beta's framing (its owner or an admin)."""
        beta = lifecycle.get_beta(get_session(), key)
        return commit(
            lambda s: lifecycle.update_beta(
                s, current_actor(), beta, today=configured_today(), **_framing(data)
            )
        )

    @require_scope("betas:write")
    @refuses(
        NO_BETA,
        NOT_EDITOR,
        Refusal.of(Conflict, "The beta is not a draft: a launched beta is part of the record."),
    )
    @blp.response(204)
    def delete(self, key):
        """Delete a draft (its owner or an admin); 409 conflict for a launched beta."""
        beta = lifecycle.get_beta(get_session(), key)
        commit(lambda s: lifecycle.delete_beta(s, current_actor(), beta))


@blp.route("/betas/<key>/metrics", methods=["POST"])
@require_scope("betas:write")
@refuses(
    NO_BETA,
    NOT_EDITOR,
    DECIDED,
    BAD_METRIC,
)
@blp.arguments(MetricSchema)
@blp.response(201, MetricSchema)
def add_metric(data, key):
    """Add a success metric with its target and its rule over events."""
    beta = lifecycle.get_beta(get_session(), key)
    return commit(lambda s: metrics.add_metric(s, current_actor(), beta, **data))


@blp.route("/betas/<key>/metrics/<int:metric_id>", methods=["PATCH"])
@require_scope("betas:write")
@refuses(
    Refusal.of(NotFound, "No beta has this key, or the beta has no metric with this id."),
    NOT_EDITOR,
    DECIDED,
    BAD_METRIC,
)
@blp.arguments(MetricChangesSchema(partial=True))
@blp.response(200, MetricSchema)
def update_metric(data, key, metric_id):
    """Change a metric: any of its name, stage, counts, target, unit, direction and rule."""
    beta = lifecycle.get_beta(get_session(), key)
    return commit(lambda s: metrics.update_metric(s, current_actor(), beta, metric_id, **data))


@blp.route("/betas/<key>/launch", methods=["POST"])
@require_scope("betas:write")
@refuses(
    NO_BETA,
    NOT_EDITOR,
    Refusal.of(Conflict, "The beta is not a draft: it launched already."),
    LaunchRefused,
)
@blp.response(200, BetaSchema)
def launch(key):
    """Launch a draft; 409 launch_refused lists everything missing."""
    beta = lifecycle.get_beta(get_session(), key)
    return commit(
        lambda s: lifecycle.launch(
            s, current_actor(), beta, configured_today(), launch_requirements()
        )
    )


@blp.route("/betas/<key>/extensions", methods=["POST"])
@require_scope("betas:write")
@refuses(
    NO_BETA,
    NOT_EDITOR,
    Refusal.of(
        ExtensionRefused,
        "The beta is not running, has had every extension the settings allow, or is overdue by "
        "more days than an extension may add.",
    ),
    Refusal.of(
        Invalid,
        "The reason is blank, or the new deadline is not after the old one, is past, or is more "
        "than SHIPCALL_MAX_EXTENSION_DAYS after the old one.",
    ),
)
@blp.arguments(ExtensionSchema)
@blp.response(201, BetaSchema)
def extend(data, key):
    """Move a running beta's deadline later, with a reason."""
    beta = lifecycle.get_beta(get_session(), key)
    commit(
        lambda s: lifecycle.extend(
            s,
            current_actor(),
            beta,
            new_deadline=data["new_deadline"],
            reason=data["reason"],
            today=configured_today(),
            max_extensions=settings().max_extensions,
            max_days=settings().max_extension_days,
        )
    )
    return beta
