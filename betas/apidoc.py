"""What the OpenAPI document says of each operation beyond its schemas.

The scope it requires (written by apikit.require_scope, or `public`), the errors it answers with
their codes and when each happens (`refuses`, and the errors of every body), in the API's one
error shape, and the items of lists that a view checks itself (`unchecked_items`).
"""

from __future__ import annotations

import http
import inspect
from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass

from flask_smorest import Api
from marshmallow import Schema, fields

from betas.errors import DomainError, Forbidden, NotFound


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


def document(
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
        return document(view, refusals)

    return decorator


def public(view):
    """Document an operation that needs no token: its security requirement is empty."""
    return document(view, security=[])


# The items of a list documented by a schema, without loading them through it
ITEMS_SCHEMA = "items_schema"


def unchecked_items(schema: type[Schema], **kwargs) -> fields.List:
    """Return a list of JSON objects that the view checks itself, documented as `schema` items.

    The list loads any objects, as `fields.List(fields.Dict())` does, so that the view's own
    checks name each bad item; `schema` only documents them, as a component of its own.
    """
    metadata = {**kwargs.pop("metadata", {}), ITEMS_SCHEMA: schema}
    return fields.List(fields.Dict(), metadata=metadata, **kwargs)


def items_schema(converter, field, **_kwargs) -> dict:
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
