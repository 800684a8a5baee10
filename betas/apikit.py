"""The API kit: what the JSON API of every package stands on.

The error shape and the mapping of HTTP errors to it, bearer-token authentication with scopes
(`require_scope`, which also documents the scope and its 401 and 403), the one commit helper of
API routes, field factories shared by schemas, and the Api object. What the OpenAPI document says
beyond the schemas (`refuses`, `public`, `unchecked_items`) is written by betas/apidoc.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, g, jsonify, request
from flask_smorest import Api
from marshmallow import fields, validate
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from betas import apidoc
from betas.auth import tokens
from betas.db import get_database, get_session
from betas.models import KEY_MAX, KEY_PATTERN, SLUG_HINT

PREFIX = "/api/v1"
UNKNOWN_FIELD = "Unknown field."
T = TypeVar("T")


# Errors


def error_response(status: int, code: str, message: str, details=(), headers=None):
    """Return the API's one error shape: {"error": {"code", "message", "details"}}."""
    body = {"error": {"code": code, "message": message, "details": list(details)}}
    return jsonify(body), status, headers or {}


# The keys of marshmallow's messages that name where the input was, not a field of it.
LOCATIONS = frozenset({"json", "query", "_schema"})


def _flatten(messages, path=()) -> list[dict[str, str]]:
    """Turn marshmallow's nested messages into [{"field": "a.0.b", "message": ...}]."""
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            out += _flatten(value, path if key in LOCATIONS else (*path, str(key)))
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
    """Authenticate the bearer token and require `scope`; 401 without a live token, else 403.

    The OpenAPI document shows the scope as the operation's security requirement, and its 401
    and 403; put it above `blp.arguments` (and `refuses`), so that the body's errors show too.
    """
    token_refusals = (
        apidoc.Refusal(
            401,
            "unauthorized",
            "No token was sent (Authorization: Bearer TOKEN), or it is unknown or revoked, or "
            "its user is inactive.",
        ),
        apidoc.Refusal(403, "forbidden", f"The token lacks the scope {scope}."),
    )

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
            grant = None
            if scheme.lower() == "bearer" and secret.strip():
                grant = tokens.token_for(get_database(), secret.strip())
            if grant is None:
                return error_response(
                    401,
                    "unauthorized",
                    "Send a valid API token: Authorization: Bearer TOKEN.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if scope not in grant.scopes:
                return error_response(403, "forbidden", f"This token lacks the scope {scope}.")
            if tokens.token_use_due(grant):
                _record_use(grant)
            g.api_grant = grant
            return view(*args, **kwargs)

        return apidoc.document(wrapped, token_refusals, security=[{"bearer": [scope]}], first=True)

    return decorator


def _record_use(grant: tokens.Grant) -> None:
    # A request that writes anyway records the use in its own transaction; a read-only request in
    # a short one of its own, so that reads stay reads and never wait for SQLite's write lock.
    session = get_session()
    if session.info.get("write"):
        tokens.record_token_use(session, grant)
        return
    with get_database().session(write=True) as own:
        tokens.record_token_use(own, grant)
        own.commit()


def commit(change: Callable[[Session], T]) -> T:
    """Run one service call in this request's session and commit; return what it returned.

    A refusal propagates to the app's error handler, which answers in the error shape; the
    session, never committed, is rolled back when the request ends.
    """
    session = get_session()
    value = change(session)
    session.commit()
    return value


# Shared fields


def slug_field() -> fields.Str:
    """Return a required slug field: a beta's key, a cohort's slug."""
    return fields.Str(
        required=True,
        validate=[
            validate.Length(1, KEY_MAX),
            validate.Regexp(KEY_PATTERN, error=SLUG_HINT),
        ],
    )


def init_app(app: Flask) -> Api:
    """Set up the API and its OpenAPI document at /api/v1/openapi.json; return the Api.

    There is no document-wide security requirement: each operation states its own scope
    (`require_scope`), or that it needs none (`public`).
    """
    app.config.update(
        API_TITLE="Shipcall",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        },
    )
    api = apidoc.ShipcallApi(app)
    api.ma_plugin.converter.add_attribute_function(apidoc.items_schema)
    return api
