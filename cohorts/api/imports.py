"""The import API: accounts and conversations in, as JSON items, all or nothing."""

from __future__ import annotations

from flask import request
from marshmallow import INCLUDE, Schema, fields, validate

from betas.apidoc import Refusal, refuses, unchecked_items
from betas.apikit import commit, require_scope
from betas.auth.web import current_actor
from betas.models import NAME_MAX
from cohorts import importing
from cohorts.api import blp
from cohorts.models import Author

MAX_IMPORT_ITEMS = 10_000
IMPORT_MAX_BYTES = 32 * 1024 * 1024
IMPORT_ENDPOINTS = frozenset({"cohorts_api.import_accounts", "cohorts_api.import_conversations"})
TIME = "ISO 8601, like 2026-10-02T14:30:00Z; without a zone, UTC."

# The items as the importer reads them. These schemas only document them: the importer checks
# each item itself, so that a bad one is named by its place, like accounts.3.external_id.


def _external_id(description: str) -> fields.Str:
    return fields.Str(
        required=True,
        validate=validate.Length(1, importing.ID_MAX),
        metadata={"description": description + " A number is taken as text."},
    )


class AccountItemSchema(Schema):
    """An account to create, or to update by its external_id; other keys are attributes too."""

    class Meta:
        """Keys other than these are attributes too: the schema is open."""

        unknown = INCLUDE

    external_id = _external_id("The account's id in your systems, as the product knows it.")
    name = fields.Str(
        allow_none=True,
        validate=validate.Length(max=NAME_MAX),
        metadata={"description": "Left out, empty or null, an existing account keeps its name."},
    )
    attributes = fields.Dict(
        allow_none=True,
        metadata={
            "description": 'Like {"plan": "pro", "seats": 12}: merged into an existing '
            "account's own. Any other key of the item is an attribute too."
        },
    )


def _author_names() -> str:
    """Say which other names the importer reads as each author: "user, lead: customer; ..."."""
    others = {
        author: [
            name for name, is_ in importing.AUTHORS.items() if is_ is author and name != author
        ]
        for author in Author
    }
    return "; ".join(f"{', '.join(names)}: {author}" for author, names in others.items() if names)


class PartSchema(Schema):
    """One message of a conversation."""

    author = fields.Str(
        required=True,
        validate=validate.OneOf([author.value for author in Author]),
        metadata={
            "description": "Who wrote it: only customers' words are searched. Any case, and "
            "support tools' names too: " + _author_names() + "."
        },
    )
    body = fields.Str(
        allow_none=True,
        metadata={"description": "Text, or HTML (kept as readable text); null is empty."},
    )
    created_at = fields.DateTime(required=True, metadata={"description": TIME})


class ConversationItemSchema(Schema):
    """A conversation to create, or to replace by its external_id: its tags and parts too."""

    external_id = _external_id("The conversation's id in the support tool.")
    account = _external_id("The external_id of an account imported before.")
    created_at = fields.DateTime(
        metadata={
            "description": "When it started; left out, the time of its earliest part. "
            "Required without parts. " + TIME
        }
    )
    started_at = fields.DateTime(
        metadata={"description": "When it started, read instead of created_at. " + TIME}
    )
    tags = fields.List(
        fields.Str(validate=validate.Length(max=importing.TAG_MAX)),
        allow_none=True,
        metadata={"description": "Text separated by commas or semicolons is taken too."},
    )
    parts = fields.List(fields.Nested(PartSchema))


class AccountsImportSchema(Schema):
    """Accounts to create or update by external_id."""

    accounts = unchecked_items(
        AccountItemSchema,
        required=True,
        metadata={
            "description": f"At most {MAX_IMPORT_ITEMS:,}. An existing account gets the name "
            "and the attributes merged into its own.",
            "maxItems": MAX_IMPORT_ITEMS,
        },
    )


class ConversationsImportSchema(Schema):
    """Conversations to create, or replace by external_id."""

    conversations = unchecked_items(
        ConversationItemSchema,
        required=True,
        metadata={
            "description": f"At most {MAX_IMPORT_ITEMS:,}. An existing conversation gets these "
            "tags and parts instead of its own.",
            "maxItems": MAX_IMPORT_ITEMS,
        },
    )


class ImportResultSchema(Schema):
    """How many items were created and how many updated."""

    created = fields.Int()
    updated = fields.Int()


@blp.before_request
def _allow_import_bodies():
    """Take bodies of up to 32 MB for imports: 10,000 conversations do not fit in 1 MB."""
    if request.endpoint not in IMPORT_ENDPOINTS:
        return
    if (request.content_length or 0) > IMPORT_MAX_BYTES:
        raise importing.TooMuch(
            f"The body is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB: "
            "split the items into several requests."
        )
    request.max_content_length = IMPORT_MAX_BYTES


def _import_refusals(noun: str, wrong: str) -> tuple[Refusal, ...]:
    return (
        Refusal.of(
            importing.ImportFailed,
            f"Some {noun} are wrong ({wrong}): nothing was imported. Details name each bad "
            f"item's field, like {noun}.3.external_id (the first 50).",
        ),
        Refusal.of(
            importing.TooMuch,
            f"More than {MAX_IMPORT_ITEMS:,} {noun}, or a body over "
            f"{IMPORT_MAX_BYTES // (1024 * 1024)} MB: split them into several requests.",
        ),
        Refusal.of(
            importing.ImportClashed,
            f"Another import created some of the same {noun} at that moment: nothing was "
            "imported from this one; send it again.",
        ),
    )


def _import(kind: importing.Kind, items: list[dict]):
    if len(items) > MAX_IMPORT_ITEMS:
        raise importing.TooMuch(
            f"Send at most {MAX_IMPORT_ITEMS:,} {kind.value} a request; this one has "
            f"{len(items):,}. Split them into several requests."
        )
    origin = importing.Origin.api(current_actor())
    result = commit(lambda s: importing.import_items(s, kind, items, origin=origin))
    return result, (201 if result.created else 200)


@blp.route("/accounts", methods=["POST"])
@require_scope("data:write")
@refuses(
    *_import_refusals(
        "accounts", "a missing or repeated id, a name too long, attributes that are no object"
    )
)
@blp.arguments(AccountsImportSchema)
@blp.response(201, ImportResultSchema, description="Some accounts were created.")
@blp.alt_response(200, schema=ImportResultSchema, description="Every account existed already.")
def import_accounts(data):
    """Create or update accounts by external_id, all or nothing; 422 import_failed lists why.

    An import that goes through is recorded in the import history, with the token that sent it.
    """
    return _import(importing.Kind.ACCOUNTS, data["accounts"])


@blp.route("/conversations", methods=["POST"])
@require_scope("data:write")
@refuses(
    *_import_refusals(
        "conversations",
        "a missing or repeated id, an account not imported, an unknown author or key, "
        "a time that is no ISO 8601",
    )
)
@blp.arguments(ConversationsImportSchema)
@blp.response(201, ImportResultSchema, description="Some conversations were created.")
@blp.alt_response(200, schema=ImportResultSchema, description="Every conversation existed already.")
def import_conversations(data):
    """Create or replace conversations by external_id, all or nothing; import accounts first.

    An import that goes through is recorded in the import history, with the token that sent it.
    """
    return _import(importing.Kind.CONVERSATIONS, data["conversations"])
