"""The API kit: what the JSON API of every package stands on.

The error shape and the mapping of HTTP errors to it, bearer-token authentication with scopes
(`require_scope`), the one commit helper of API routes, and field factories shared by schemas.

It also writes what the OpenAPI document says of each operation beyond its schemas: the scope it
requires (`require_scope`, or `public`), the errors it answers with their codes and when each
happens (`refuses`, and the errors of every body), and the items of lists that a view checks
itself (`unchecked_items`).
"""

from __future__ import annotations

import functools
import http
import inspect
from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, g, jsonify, request
from flask_smorest import Api
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from betas.auth import tokens
from betas.db import get_db, get_session
from betas.errors import DomainError, Forbidden, NotFound
from betas.models import KEY_MAX, KEY_PATTERN, SLUG_HINT

PREFIX = "/api/v1"
UNKNOWN_FIELD = "Unknown field."
T = TypeVar("T")


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


# The errors and security of each operation, in the OpenAPI document


class ErrorDetailSchema(Schema):
    """What is wrong with one field of the request."""

    field = fields.Str(
        metadata={"description": 'The field, with its place in lists: "accounts.3.external_id".'}
    )
    message = fields.Str()


class ErrorBodySchema(Schema):
    """What was refused and why."""

    code = fields.Str(
        required=True,
        metadata={"description": "Names the rule; each operation's responses list its codes."},
    )
    message = fields.Str(required=True, metadata={"description": "Says what to do, for people."})
    details = fields.List(fields.Nested(ErrorDetailSchema), required=True)


class ErrorSchema(Schema):
    """Every error the API answers: {"error": {"code", "message", "details"}}."""

    error = fields.Nested(ErrorBodySchema, required=True)


@dataclass(frozen=True)
class Refusal:
    """An error that an operation may answer: its status, its code, and when it happens."""

    status: int
    code: str
    when: str

    @classmethod
    def of(cls, error: type[DomainError], when: str | None = None) -> Refusal:
        """Return the refusal a domain error answers; `when` defaults to its docstring's summary."""
        summary = (inspect.getdoc(error) or "").split("\n\n")[0]
        return cls(error.status, error.code, when or " ".join(summary.split()))


# What every operation with a JSON body may answer, whatever it does.
BODY_REFUSALS = (
    Refusal(400, "malformed_json", "The body is not valid JSON."),
    Refusal(400, "unknown_field", "The body has a field that the operation does not take."),
    Refusal(
        413, "too_large", "The body is larger than the server takes: 1 MB for most operations."
    ),
    Refusal(
        422,
        "validation_failed",
        "A field is missing, of the wrong type or out of bounds; details name each one.",
    ),
)


# What routes on a beta answer, in betas and cohorts alike.
NO_BETA = Refusal.of(NotFound, "No beta has this key.")
NOT_EDITOR = Refusal.of(
    Forbidden, "The token's user may not change this beta: only its owner (a PM) or an admin may."
)


def _takes_body(apidoc: dict) -> bool:
    """Tell whether flask-smorest's `arguments` documented a JSON body on the view."""
    parameters = apidoc.get("arguments", {}).get("parameters", [])
    return any(isinstance(p, dict) and p.get("in") == "json" for p in parameters)


def _responses(refusals: Iterable[Refusal]) -> dict[int, dict]:
    """Return one response per status, in the error shape, listing each code and when."""
    by_status: dict[int, list[Refusal]] = {}
    for refusal in refusals:
        listed = by_status.setdefault(refusal.status, [])
        if refusal not in listed:
            listed.append(refusal)
    return {
        status: {
            "description": f"{http.HTTPStatus(status).phrase}; the error's code says why:\n\n"
            + "\n".join(f"- `{r.code}`: {r.when}" for r in listed),
            "content": {"application/json": {"schema": ErrorSchema}},
        }
        for status, listed in sorted(by_status.items())
    }


def _document(
    view, refusals: Iterable[Refusal] = (), security: list | None = None, *, first: bool = False
):
    """Add refusals (and a security requirement) to the view's OpenAPI doc; return the view.

    Stored as flask-smorest's `Blueprint.doc` stores manual doc: in a copy of the view's
    `_apidoc`, which its own decorators copy onwards (they wrap with functools.wraps), and which
    is merged over what they document when the blueprint is registered. The responses are
    written whole each time, from every refusal declared so far; the body's refusals join when
    `blp.arguments` has documented a body already, so these decorators go above it. `first`
    lists these refusals before those declared already (the token's before the rules').
    """
    before = getattr(view, "_refusals", ())
    declared = (*refusals, *before) if first else (*before, *refusals)
    apidoc = deepcopy(getattr(view, "_apidoc", {}))
    manual = apidoc.setdefault("manual_doc", {})
    if security is not None:
        manual["security"] = security
    every = (*(BODY_REFUSALS if _takes_body(apidoc) else ()), *declared)
    manual["responses"] = {**manual.get("responses", {}), **_responses(every)}
    view._apidoc = apidoc
    view._refusals = declared
    return view


def refuses(*errors: type[DomainError] | Refusal):
    """Document the errors an operation answers besides those of its token and body.

    Each is a domain error the services raise, documented by its docstring's summary, or a
    `Refusal.of(error, "when it happens here")`. Put it above `blp.arguments`, next to
    `require_scope`: for example `@refuses(Refusal.of(NotFound, "No beta has this key."),
    LaunchRefused)`.
    """
    refusals = [e if isinstance(e, Refusal) else Refusal.of(e) for e in errors]

    def decorator(view):
        return _document(view, refusals)

    return decorator


def public(view):
    """Document an operation that needs no token: its security requirement is empty."""
    return _document(view, security=[])


# Authentication


def require_scope(scope: str):
    """Authenticate the bearer token and require `scope`; 401 without a live token, else 403.

    The OpenAPI document shows the scope as the operation's security requirement, and its 401
    and 403; put it above `blp.arguments` (and `refuses`), so that the body's errors show too.
    """
    token_refusals = (
        Refusal(
            401,
            "unauthorized",
            "No token was sent (Authorization: Bearer TOKEN), or it is unknown or revoked, or "
            "its user is inactive.",
        ),
        Refusal(403, "forbidden", f"The token lacks the scope {scope}."),
    )

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
            grant = None
            if scheme.lower() == "bearer" and secret.strip():
                grant = tokens.token_for(get_db(), secret.strip())
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

        return _document(wrapped, token_refusals, security=[{"bearer": [scope]}], first=True)

    return decorator


def _record_use(grant: tokens.Grant) -> None:
    # A request that writes anyway records the use in its own transaction; a read-only request in
    # a short one of its own, so that reads stay reads and never wait for SQLite's write lock.
    session = get_session()
    if session.info.get("write"):
        tokens.record_token_use(session, grant)
        return
    with get_db().session(write=True) as own:
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


# The items of a list documented by a schema, without loading them through it
ITEMS_SCHEMA = "items_schema"


def unchecked_items(schema: type[Schema], **kwargs) -> fields.List:
    """Return a list of JSON objects that the view checks itself, documented as `schema` items.

    The list loads any objects, as `fields.List(fields.Dict())` does, so that the view's own
    checks name each bad item; `schema` only documents them, as a component of its own.
    """
    metadata = {**kwargs.pop("metadata", {}), ITEMS_SCHEMA: schema}
    return fields.List(fields.Dict(), metadata=metadata, **kwargs)


def _items_schema(converter, field, **_kwargs) -> dict:
    """Point the items of an `unchecked_items` list at their schema (an apispec attribute function).

    apispec calls it for each field after its own, and merges what it returns over theirs.
    """
    schema = field.metadata.get(ITEMS_SCHEMA)
    if schema is None:
        return {}
    return {"items": converter.resolve_nested_schema(schema)}


class ShipcallApi(Api):
    """flask-smorest's Api, whose documented errors have the API's one error shape."""

    ERROR_SCHEMA = ErrorSchema


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
    api = ShipcallApi(app)
    api.ma_plugin.converter.add_attribute_function(_items_schema)
    return api
