"""The JSON API for accounts, conversations, the early-adopter finder, cohorts and members."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields, validate

from betas import lifecycle
from betas.apidoc import NO_BETA, NOT_EDITOR, Refusal, refuses, unchecked_items
from betas.apikit import PREFIX, commit, require_scope, slug_field
from betas.auth.web import current_actor
from betas.db import get_database, get_session, read_only
from betas.errors import BetaNotRunning, BetaOverdue, Conflict, Invalid, NotFound
from betas.models import NAME_MAX, TEXT_MAX
from betas.web import configured_today, settings
from cohorts import finder, importing, membership_check, memberships, sampling, waves
from cohorts.models import Author, CohortKind

blp = Blueprint(
    "cohorts_api",
    __name__,
    url_prefix=PREFIX,
    description="Accounts and conversations in; early adopters found; cohorts and members.",
)

# --- Imports: accounts and conversations -------------------------------------------------------

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


# --- Refusals that several routes share -------------------------------------------------------

NO_COHORT = Refusal.of(NotFound, "No beta has this key, or it has no cohort with this slug.")
NOT_RUNNING = Refusal.of(
    BetaNotRunning, "The beta is a draft or decided: accounts join a beta only while it runs."
)
OVERDUE = Refusal.of(
    BetaOverdue, "The beta passed its decision deadline: decide, or extend the deadline, first."
)
BAD_QUERY = Refusal.of(
    finder.InvalidQuery,
    "The query has no word to search for, or too many, or is too long; or the dates or tags "
    "cannot be searched.",
)


# --- Finder: early-adopter search and problem searches -----------------------------------------


class AdopterSearchSchema(Schema):
    """An early-adopter search: words customers wrote, when they wrote them, conversation tags."""

    query = fields.Str(
        required=True,
        metadata={"description": 'Words, "quoted phrases", OR, -excluded; stemmed, any case.'},
    )
    since = fields.Date(load_default=None, allow_none=True)
    until = fields.Date(load_default=None, allow_none=True)
    tags = fields.List(fields.Str(), load_default=list, metadata={"description": "Any of these."})
    limit = fields.Int(load_default=20, validate=validate.Range(1, finder.MAX_LIMIT))


class EvidenceSchema(Schema):
    """A matching message of the account, quoted."""

    conversation = fields.Str(metadata={"description": "The conversation's external id."})
    at = fields.DateTime()
    snippet = fields.Str(metadata={"description": "Escaped HTML; the match is in <mark>."})


class InThisBetaSchema(Schema):
    """Where the account already is in this beta."""

    cohort = fields.Function(lambda m: m.cohort.slug)
    status = fields.Function(lambda m: m.status.value)


class AdopterSchema(Schema):
    """An account that asked, with its evidence."""

    account = fields.Str()
    name = fields.Str()
    score = fields.Float()
    conversations = fields.Int()
    last_match_at = fields.DateTime()
    evidence = fields.List(fields.Nested(EvidenceSchema))
    in_this_beta = fields.Nested(InThisBetaSchema, attribute="membership", allow_none=True)
    other_betas = fields.List(fields.Str(), metadata={"description": "Other running betas."})


class AdopterResultsSchema(Schema):
    """The accounts found, best first, and how many accounts matched in all."""

    query = fields.Str()
    total_accounts = fields.Int()
    results = fields.List(fields.Nested(AdopterSchema))


class ProblemSearchSchema(Schema):
    """A saved search: accounts matching it had the problem, so samples leave them out."""

    id = fields.Int(dump_only=True)
    query = fields.Str(required=True)


@blp.route("/betas/<key>/adopter-search", methods=["POST"])
@read_only
@require_scope("betas:read")
@refuses(NO_BETA, BAD_QUERY)
@blp.arguments(AdopterSearchSchema)
@blp.response(200, AdopterResultsSchema)
def adopter_search(data, key):
    """Find the accounts whose customers asked, best first; 400 for a query with no words."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    criteria = finder.Criteria(data["query"], data["since"], data["until"], tuple(data["tags"]))
    result = finder.search(session, beta, criteria, limit=data["limit"], zone=settings().zone)
    return {
        "query": finder.clean_text(data["query"]),
        "total_accounts": result.total_accounts,
        "results": result.matches,
    }


@blp.route("/betas/<key>/problem-searches", methods=["POST"])
@require_scope("betas:write")
@refuses(
    NO_BETA,
    NOT_EDITOR,
    Refusal.of(finder.InvalidQuery, "The query has no word to search for, or is too long."),
    Refusal.of(Conflict, "The beta has a problem search that means the same already."),
)
@blp.arguments(ProblemSearchSchema)
@blp.response(201, ProblemSearchSchema)
def save_problem_search(data, key):
    """Save a query on the beta as a problem search; 409 when it has the same one already."""
    beta = lifecycle.get_beta(get_session(), key)
    return commit(lambda s: finder.save_problem_search(s, current_actor(), beta, data["query"]))


# --- Random sample -----------------------------------------------------------------------------


class SampleRequestSchema(Schema):
    """A random sample of accounts that never asked, to draw into a random-sample cohort."""

    size = fields.Int(required=True, validate=validate.Range(1, sampling.MAX_SIZE))
    seed = fields.Str(
        load_default=None,
        allow_none=True,
        metadata={"description": "Leave out for a new one; a cohort drawn before keeps its own."},
    )
    filters = fields.Dict(
        keys=fields.Str(),
        values=fields.List(fields.Str()),
        load_default=dict,
        metadata={
            "description": 'Any of the values, compared as text: {"plan": ["pro", "team"]}. '
            "Attribute names match whatever their case and spacing (plan finds Plan)."
        },
    )
    stratify_by = fields.Str(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "An attribute, whatever the case and spacing of its name: each value "
            "gets its share of the pool."
        },
    )
    exclude_other_betas = fields.Bool(
        load_default=False,
        metadata={"description": "Leave out active or invited members of other running betas."},
    )
    dry_run = fields.Bool(load_default=False, metadata={"description": "Draw, enroll nobody."})


class SampleResultSchema(Schema):
    """A draw: its seed, the pool's size, the accounts drawn, and whether they were enrolled."""

    seed = fields.Str()
    pool_size = fields.Int()
    accounts = fields.List(fields.Str(), metadata={"description": "External ids, in draw order."})
    enrolled = fields.Bool()


@blp.route("/betas/<key>/cohorts/<slug>/sample", methods=["POST"])
@require_scope("members:write")
@refuses(
    NO_COHORT,
    NOT_EDITOR,
    NOT_RUNNING,
    OVERDUE,
    sampling.NotRandomSample,
    Refusal.of(
        sampling.SeedFixed,
        "The cohort was drawn before with another seed (later draws keep its seed), or by "
        "another version of the draw.",
    ),
    Refusal.of(
        sampling.PoolTooSmall,
        "The pool holds fewer accounts than the size asked for; the message says how many.",
    ),
    Refusal.of(
        Invalid,
        "A filter, the seed or stratify_by is out of bounds, or the pool has too many values of "
        "stratify_by.",
    ),
)
@blp.arguments(SampleRequestSchema)
@blp.response(200, SampleResultSchema)
def draw_sample(data, key, slug):
    """Draw a reproducible random sample into a random-sample cohort; dry_run only shows it.

    409 pool_too_small says how many accounts the pool holds, or which filters no account in it
    matches; 422 validation_failed names an attribute no account has, with the known ones.
    """
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    cohort = waves.get_cohort(session, beta, slug)
    dry_run = data.pop("dry_run")
    # A dry run changes nothing either, but a POST opens a writing session: committing keeps the
    # token's last use.
    return commit(
        lambda s: sampling.draw_sample(
            s,
            current_actor(),
            beta,
            cohort,
            sampling.SampleSpec(**data),
            configured_today(),
            dry_run=dry_run,
        )
    )


# --- Cohorts and members ----------------------------------------------------------------------


MAX_ACCOUNTS = 10_000


class CohortSchema(Schema):
    """A wave of a beta."""

    slug = slug_field()
    name = fields.Str(required=True, validate=validate.Length(1, NAME_MAX))
    kind = fields.Str(required=True, validate=validate.OneOf([k.value for k in CohortKind]))
    planned_size = fields.Int(allow_none=True, validate=validate.Range(min=1))
    position = fields.Int(dump_only=True)
    criteria = fields.Dict(dump_only=True)


class EnrollSchema(Schema):
    """Accounts to enroll in a cohort, with the reason they are there."""

    accounts = fields.List(
        fields.Str(validate=validate.Length(1, 200)),
        required=True,
        validate=validate.Length(1, MAX_ACCOUNTS),
    )
    reason = fields.Str(required=True, validate=validate.Length(1, TEXT_MAX))
    override_opt_out = fields.Bool(load_default=False)


class SkippedSchema(Schema):
    """An account that was not enrolled, and why."""

    account = fields.Str()
    reason = fields.Str()


class EnrollmentSchema(Schema):
    """What an enrollment did."""

    enrolled = fields.List(fields.Str())
    skipped = fields.List(fields.Nested(SkippedSchema))


class PlaceSchema(Schema):
    """The cohort an account should be in."""

    cohort = fields.Str(required=True)
    reason = fields.Str(load_default="", validate=validate.Length(max=TEXT_MAX))
    override_opt_out = fields.Bool(load_default=False)


class OptOutSchema(Schema):
    """Why the account opts out, if the customer said."""

    reason = fields.Str(
        load_default="",
        validate=validate.Length(max=TEXT_MAX),
        metadata={"description": "Optional; kept on the membership and in the audit trail."},
    )


class MembershipSchema(Schema):
    """An account's place in a beta."""

    beta = fields.Function(lambda m: m.beta.key)
    account = fields.Function(lambda m: m.account.external_id)
    cohort = fields.Function(lambda m: m.cohort.slug)
    status = fields.Function(lambda m: m.status.value)
    reason = fields.Str()
    enrolled_at = fields.DateTime()
    notified_at = fields.DateTime(allow_none=True)
    left_at = fields.DateTime(
        allow_none=True, metadata={"description": "When it declined, opted out or was removed."}
    )
    opt_out_reason = fields.Str(allow_none=True)


@blp.route("/betas/<key>/cohorts", methods=["POST"])
@require_scope("members:write")
@refuses(
    NO_BETA,
    NOT_EDITOR,
    NOT_RUNNING,
    OVERDUE,
    Refusal.of(Conflict, "The beta has a cohort with this slug already."),
    Refusal.of(Invalid, "The name is blank."),
)
@blp.arguments(CohortSchema)
@blp.response(201, CohortSchema)
def create_cohort(data, key):
    """Add a cohort (a wave) to a running beta."""
    beta = lifecycle.get_beta(get_session(), key)
    return commit(
        lambda s: waves.create_cohort(s, current_actor(), beta, today=configured_today(), **data)
    )


@blp.route("/betas/<key>/cohorts/<slug>/members", methods=["POST"])
@require_scope("members:write")
@refuses(NO_COHORT, NOT_EDITOR, NOT_RUNNING, OVERDUE)
@blp.arguments(EnrollSchema)
@blp.response(200, EnrollmentSchema)
def enroll(data, key, slug):
    """Enroll accounts in a cohort; skipped accounts come back with the reason."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    cohort = waves.get_cohort(session, beta, slug)
    return commit(
        lambda s: memberships.enroll(
            s,
            current_actor(),
            beta,
            cohort,
            data["accounts"],
            data["reason"],
            configured_today(),
            override_opt_out=data["override_opt_out"],
        )
    )


class MembershipCheckSchema(Schema):
    """Whether an account is in a beta."""

    beta = fields.Str()
    account = fields.Str()
    enrolled = fields.Bool()
    status = fields.Str(allow_none=True)
    cohort = fields.Str(allow_none=True)


class MemberRowSchema(Schema):
    """One member as the product caches it."""

    account = fields.Str()
    status = fields.Str()
    cohort = fields.Str()
    enrolled_at = fields.DateTime()


class MemberListSchema(Schema):
    """Every member of a beta."""

    beta = fields.Str()
    members = fields.List(fields.Nested(MemberRowSchema))


@blp.route("/betas/<key>/members", methods=["GET"])
@require_scope("members:read")
@refuses(NO_BETA)
@blp.alt_response(200, schema=MemberListSchema)
@blp.alt_response(304, description="The list has not changed since the ETag you sent.")
def member_list(key):
    """List a beta's members with a strong ETag; If-None-Match with it answers 304."""
    beta_id, version = membership_check.members_version(get_database(), key)
    etag = f"{beta_id}-{version}"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        members = membership_check.member_rows(get_session(), beta_id)
        response = jsonify({"beta": key, "members": members})
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.route("/betas/<key>/members/<path:account>")
class Member(MethodView):
    """One account's membership of a beta."""

    @require_scope("members:read")
    @refuses(NO_BETA)
    @blp.alt_response(200, schema=MembershipCheckSchema)
    def get(self, key, account):
        """Tell whether the account is in the beta; an account never seen is not enrolled."""
        # Serialized by hand, not through the schema (which documents it): this is the hot path.
        check = membership_check.check_membership(get_database(), key, account)
        return jsonify(
            beta=check.beta,
            account=check.account,
            enrolled=check.enrolled,
            status=check.status,
            cohort=check.cohort,
        )

    @require_scope("members:write")
    @refuses(
        Refusal.of(
            NotFound,
            "No beta has this key, it has no such cohort, or no account has this external id: "
            "import it first.",
        ),
        NOT_EDITOR,
        NOT_RUNNING,
        OVERDUE,
        Refusal.of(
            memberships.OptedOut,
            "The account opted out of this beta: send override_opt_out to add it back anyway.",
        ),
    )
    @blp.arguments(PlaceSchema)
    @blp.response(200, MembershipSchema)
    def put(self, data, key, account):
        """Put the account in a cohort: enroll it, or move it from another cohort."""
        session = get_session()
        beta = lifecycle.get_beta(session, key)
        cohort = waves.get_cohort(session, beta, data["cohort"])
        return commit(
            lambda s: memberships.place_member(
                s,
                current_actor(),
                beta,
                account,
                cohort,
                data["reason"],
                configured_today(),
                override_opt_out=data["override_opt_out"],
            )
        )

    @require_scope("members:write")
    @refuses(Refusal.of(NotFound, "No beta has this key, or the account is not in it."), NOT_EDITOR)
    @blp.arguments(OptOutSchema, required=False)
    @blp.response(200, MembershipSchema)
    def delete(self, data, key, account):
        """Opt the account out of the beta for good, on the customer's behalf; it is kept forever.

        An optional body {"reason": "..."} records why.
        """
        beta = lifecycle.get_beta(get_session(), key)
        return commit(
            lambda s: memberships.opt_out(s, current_actor(), beta, account, data["reason"])
        )
