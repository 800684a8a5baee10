"""The JSON API for betas under /api/v1, described by the OpenAPI document it generates.

flask-smorest validates bodies with marshmallow schemas and writes /api/v1/openapi.json from the
same schemas, so the document cannot drift from what the API accepts.
"""

from __future__ import annotations

import functools

from flask import Flask, current_app, g, jsonify, request
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import HTTPException

from betas import auth, lifecycle
from betas.db import get_db, get_session
from betas.models import (
    KEY_MAX,
    KEY_PATTERN,
    NAME_MAX,
    TEXT_MAX,
    BusinessOutcome,
    Direction,
    MetricStage,
    MetricUnit,
    Risk,
)

PREFIX = "/api/v1"
UNKNOWN_FIELD = "Unknown field."

blp = Blueprint("api", __name__, url_prefix=PREFIX, description="Betas, their framing and life.")


def _values(enum_cls) -> list[str]:
    return [member.value for member in enum_cls]


# Errors


def error_response(status: int, code: str, message: str, details=(), headers=None):
    """Return the API's one error shape: {"error": {"code", "message", "details"}}."""
    body = {"error": {"code": code, "message": message, "details": list(details)}}
    return jsonify(body), status, headers or {}


def _flatten(messages, path=()) -> list[dict[str, str]]:
    """Turn marshmallow's nested messages into [{"field": "a.0.b", "message": ...}]."""
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            out += _flatten(value, (*path, str(key)) if key not in ("json", "_schema") else path)
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [{"field": ".".join(path), "message": m} for m in messages]
    if isinstance(messages, list):
        return [d for m in messages for d in _flatten(m, path)]
    return [{"field": ".".join(path), "message": str(messages)}]


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
}


def http_error_response(exc: HTTPException):
    """Render an HTTP error (including schema validation failures) in the API's shape."""
    data = getattr(exc, "data", None) or {}
    status = exc.code or 500
    code = _CODES.get(status, "server_error" if status >= 500 else "error")
    message = exc.description
    details = _flatten(data["messages"]) if "messages" in data else []
    if status == 400 and details:
        code, message = "malformed_json", "The body is not valid JSON."
    elif status == 422:
        unknown = [d for d in details if d["message"] == UNKNOWN_FIELD]
        if unknown:
            status, code = 400, "unknown_field"
            message = "Unknown fields: " + ", ".join(d["field"] for d in unknown) + "."
        elif any(d["field"] for d in details):
            fields_ = ", ".join(d["field"] for d in details if d["field"])
            message = f"Some fields are invalid: {fields_}."
        else:
            message = "The body must be a JSON object with the documented fields."
    elif status == 413:
        message = f"The body is larger than {request.max_content_length:,} bytes."
    elif status >= 500:
        message = "Something went wrong on our side; the change was not saved."
    return error_response(status, code, message, details, data.get("headers"))


# Authentication


def require_scope(scope: str):
    """Authenticate the bearer token and require `scope`; 401 without a live token, else 403."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
            grant = None
            if scheme.lower() == "bearer" and secret.strip():
                grant = auth.token_for(get_db(), secret.strip())
            if grant is None:
                return error_response(
                    401,
                    "unauthorized",
                    "Send a valid API token: Authorization: Bearer TOKEN.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if scope not in grant.scopes:
                return error_response(403, "forbidden", f"This token lacks the scope {scope}.")
            auth.record_token_use(get_db(), grant)
            g.api_grant = grant
            return view(*args, **kwargs)

        return wrapped

    return decorator


# Schemas


def slug_field() -> fields.Str:
    """Return a required slug field: a beta's key, a cohort's slug."""
    return fields.Str(
        required=True,
        validate=[
            validate.Length(1, KEY_MAX),
            validate.Regexp(KEY_PATTERN, error="Use lower-case letters, digits and hyphens."),
        ],
    )


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


def configured_today():
    """Return today in the configured time zone: the day deadlines are read against."""
    return lifecycle.today_in(current_app.config["SHIPCALL"].zone)


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
    @blp.arguments(BetaSchema)
    @blp.response(201, BetaSchema)
    def post(self, data):
        """Frame a new draft beta (PMs and admins)."""
        session = get_session()
        key = data.pop("key")
        beta = lifecycle.create_beta(session, auth.current_actor(), key, **_framing(data))
        session.commit()
        return beta


@blp.route("/betas/<key>")
class BetaItem(MethodView):
    """One beta."""

    @require_scope("betas:read")
    @blp.response(200, BetaSchema)
    def get(self, key):
        """Read a beta with its metrics and extensions."""
        return lifecycle.get_beta(get_session(), key)

    @require_scope("betas:write")
    @blp.arguments(BetaChangesSchema(partial=True))
    @blp.response(200, BetaSchema)
    def patch(self, data, key):
        """Change a beta's framing (its owner or an admin)."""
        session = get_session()
        beta = lifecycle.get_beta(session, key)
        lifecycle.update_beta(session, auth.current_actor(), beta, **_framing(data))
        session.commit()
        return beta


@blp.route("/betas/<key>/metrics", methods=["POST"])
@require_scope("betas:write")
@blp.arguments(MetricSchema)
@blp.response(201, MetricSchema)
def add_metric(data, key):
    """Add a success metric with its target."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    metric = lifecycle.add_metric(session, auth.current_actor(), beta, **data)
    session.commit()
    return metric


@blp.route("/betas/<key>/launch", methods=["POST"])
@require_scope("betas:write")
@blp.response(200, BetaSchema)
def launch(key):
    """Launch a draft; 409 launch_refused lists everything missing."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    lifecycle.launch(session, auth.current_actor(), beta, configured_today())
    session.commit()
    return beta


@blp.route("/betas/<key>/extensions", methods=["POST"])
@require_scope("betas:write")
@blp.arguments(ExtensionSchema)
@blp.response(201, BetaSchema)
def extend(data, key):
    """Move a running beta's deadline later, with a reason."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    lifecycle.extend(
        session,
        auth.current_actor(),
        beta,
        new_deadline=data["new_deadline"],
        reason=data["reason"],
        today=configured_today(),
        max_extensions=current_app.config["SHIPCALL"].max_extensions,
    )
    session.commit()
    return beta


def init_app(app: Flask) -> Api:
    """Mount the betas API and its OpenAPI document at /api/v1/openapi.json; return the Api."""
    app.config.update(
        API_TITLE="Shipcall",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    api = Api(app)
    api.register_blueprint(blp)
    return api
