"""The feedback API: log what customers said, read the log, codify and resolve; who to ask."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates

from betas import lifecycle
from betas.apidoc import NO_BETA, Refusal, refuses, unchecked_items
from betas.apikit import PREFIX, commit, require_scope
from betas.auth.web import current_actor
from betas.db import get_session, utcnow
from betas.errors import Conflict, Forbidden, Invalid, NotFound
from betas.web import configured_today, settings
from cohorts.importing import ImportFailed, Origin, TooMuch
from feedback import asks, importing, log, patterns
from feedback.models import CHANNEL_MAX, CODE_MAX, ORIGINAL_MAX, BlockerState, Source

blp = Blueprint(
    "feedback_api", __name__, url_prefix=PREFIX, description="What beta customers said, codified."
)

NO_ITEM = Refusal.of(NotFound, "No feedback item has this id.")
NOT_EDITOR = Refusal.of(
    Forbidden, "The token's user may not codify this beta's feedback: only its owner or an admin."
)
DRAFT = Refusal.of(Conflict, "The beta is a draft: it has no customers to hear from yet.")
BAD_VALUE = Refusal.of(
    Invalid,
    "A value breaks a rule: an unknown account or type, an original that is blank or too long, "
    "a duplicate_of that is no earlier item of the beta, a call that is not with this account "
    "in this beta, a resolved blocker without a resolution.",
)


class CodesSchema(Schema):
    """How an item is codified: its type, summary and reason, and what it repeats."""

    type = fields.Str(allow_none=True, metadata={"description": "One of SHIPCALL_FEEDBACK_TYPES."})
    summary = fields.Str(allow_none=True, validate=validate.Length(max=CODE_MAX))
    reason = fields.Str(
        allow_none=True,
        validate=validate.Length(max=CODE_MAX),
        metadata={"description": "The issue, cause or problem actually being expressed."},
    )
    duplicate_of = fields.Int(
        allow_none=True, metadata={"description": "The id of an earlier item of the beta."}
    )


class NewItemSchema(CodesSchema):
    """What a customer said, word for word; codify it now or later."""

    account = fields.Str(
        required=True,
        validate=validate.Length(1, 200),
        metadata={"description": "The account's id (or its name, when no id matches)."},
    )
    original = fields.Str(
        required=True,
        validate=validate.Length(1, ORIGINAL_MAX),
        metadata={"description": "Verbatim; stored exactly as given and never changed."},
    )
    source = fields.Str(
        load_default=None,
        validate=validate.OneOf([s.value for s in Source]),
        metadata={"description": "Where it was said: call when `call` is given, other if not."},
    )
    call = fields.Int(
        load_default=None,
        allow_none=True,
        metadata={"description": "The id of the call (with this account) it was said on."},
    )


class ChangeSchema(CodesSchema):
    """What changes on an item; only the fields sent change."""

    blocker_state = fields.Str(validate=validate.OneOf([s.value for s in BlockerState]))
    resolution = fields.Str(
        allow_none=True,
        validate=validate.Length(max=CODE_MAX),
        metadata={"description": "How a blocker was resolved; required to resolve it."},
    )
    original = fields.Raw(
        load_only=True,
        metadata={"description": "Refused: what the customer said never changes once logged."},
    )

    @validates("original")
    def _never(self, _value, **_kwargs) -> None:
        raise ValidationError("What the customer said never changes once logged.")


class ItemSchema(Schema):
    """A feedback item, with the context it was said in."""

    id = fields.Int()
    beta = fields.Function(lambda i: i.beta.key)
    account = fields.Function(lambda i: i.account.external_id)
    source = fields.Function(lambda i: i.source.value)
    original = fields.Str()
    type = fields.Str(allow_none=True)
    summary = fields.Str(allow_none=True)
    reason = fields.Str(allow_none=True)
    duplicate_of = fields.Int(attribute="duplicate_of_id", allow_none=True)
    call = fields.Int(
        attribute="call_id", allow_none=True, metadata={"description": "The call it was said on."}
    )
    blocker_state = fields.Function(
        lambda i: i.blocker_state.value if i.blocker_state else None, allow_none=True
    )
    resolution = fields.Str(allow_none=True)
    cohort = fields.Function(
        lambda i: i.cohort.slug if i.cohort else None,
        allow_none=True,
        metadata={"description": "The account's cohort in the beta when it was logged."},
    )
    logged_by = fields.Function(lambda i: i.logged_by.email if i.logged_by else None)
    logged_at = fields.DateTime()
    updated_at = fields.DateTime()


class LogQuerySchema(Schema):
    """Which items to list."""

    type = fields.Str(load_default="")
    account = fields.Str(load_default="", metadata={"description": "An account's id."})
    codified = fields.Bool(
        load_default=None, allow_none=True, metadata={"description": "true or false."}
    )
    cursor = fields.Str(
        load_default=None, metadata={"description": "The `next` of the page before."}
    )


class LogPageSchema(Schema):
    """A page of the log, newest first; `next` is the cursor of the next page, or null."""

    items = fields.List(fields.Nested(ItemSchema))
    next = fields.Str(allow_none=True)


@blp.route("/betas/<key>/feedback")
class BetaFeedback(MethodView):
    """A beta's feedback log."""

    @require_scope("feedback:read")
    @refuses(NO_BETA, Refusal.of(Invalid, "The cursor is not one the log gave."))
    @blp.arguments(LogQuerySchema, location="query")
    @blp.response(200, LogPageSchema)
    def get(self, query, key):
        """List a beta's items, newest first, 50 a page; filter by type, account, codified."""
        session = get_session()
        beta = lifecycle.get_beta(session, key)
        wanted = log.FeedbackFilter(
            type=query["type"], account=query["account"], codified=query["codified"]
        )
        return log.feedback_page(session, beta, wanted, query["cursor"])

    @require_scope("feedback:write")
    @refuses(NO_BETA, DRAFT, BAD_VALUE)
    @blp.arguments(NewItemSchema)
    @blp.response(201, ItemSchema)
    def post(self, data, key):
        """Log what a customer said; anyone may log it, codified or not."""
        beta = lifecycle.get_beta(get_session(), key)
        types = settings().feedback_types
        return commit(lambda s: log.log(s, current_actor(), beta, types=types, **data))


@blp.route("/feedback/<int:item_id>")
class Item(MethodView):
    """One feedback item."""

    @require_scope("feedback:read")
    @refuses(NO_ITEM)
    @blp.response(200, ItemSchema)
    def get(self, item_id):
        """Read one item."""
        return log.get_item(get_session(), item_id)

    @require_scope("feedback:write")
    @refuses(NO_ITEM, NOT_EDITOR, BAD_VALUE)
    @blp.arguments(ChangeSchema)
    @blp.response(200, ItemSchema)
    def patch(self, data, item_id):
        """Codify, change, resolve or reopen an item: its owner's PM or an admin."""
        item = log.get_item(get_session(), item_id)
        types = settings().feedback_types
        return commit(lambda s: log.edit(s, current_actor(), item, data, types=types))


# Asking for feedback


class WhoToAskQuerySchema(Schema):
    """Which members to ask: those who met a metric's rule (or sent any event) in N days."""

    metric = fields.Int(
        load_default=None,
        metadata={"description": "A metric's id (with a rule); leave it out for any beta event."},
    )
    days = fields.Int(
        load_default=asks.DEFAULT_DAYS,
        validate=validate.Range(1, asks.MAX_DAYS),
        metadata={"description": "The last N days, today included, in SHIPCALL_TIMEZONE."},
    )


class AskAccountSchema(Schema):
    """A member to ask, with its usage."""

    account = fields.Str(attribute="membership.account.external_id")
    last_seen_at = fields.DateTime(allow_none=True)
    events = fields.Int(attribute="event_count", metadata={"description": "Since it joined."})


class LeftOutSchema(Schema):
    """How many members were left out, and why."""

    not_using = fields.Int(metadata={"description": "Met neither the rule nor any event."})
    cooldown = fields.Int(
        metadata={"description": "Asked in the last SHIPCALL_ASK_COOLDOWN_DAYS, in any beta."}
    )
    opted_out = fields.Int(metadata={"description": "Opted out, declined or removed."})


class AskListSchema(Schema):
    """Who to ask, with their usage, and those left out."""

    accounts = fields.List(fields.Nested(AskAccountSchema))
    left_out = fields.Nested(LeftOutSchema)


class NewAsksSchema(Schema):
    """Accounts of the beta that were asked for feedback, and how."""

    accounts = fields.List(
        fields.Str(validate=validate.Length(1, 200)),
        required=True,
        validate=validate.Length(1, asks.MAX_ACCOUNTS),
        metadata={"description": "Their ids."},
    )
    channel = fields.Str(
        required=True,
        validate=validate.Length(1, CHANNEL_MAX),
        metadata={"description": "How they were asked: email, Intercom, in_app..."},
    )


class AskSchema(Schema):
    """An ask recorded."""

    account = fields.Function(lambda a: a.account.external_id)
    channel = fields.Str()
    asked_at = fields.DateTime()


class AskedSchema(Schema):
    """The asks recorded, and the accounts left out, asked too recently."""

    asked = fields.List(fields.Nested(AskSchema))
    cooldown = fields.List(
        fields.Str(), metadata={"description": "Not asked: asked too recently, in any beta."}
    )


NO_METRIC = Refusal.of(Invalid, "The metric is not one of the beta's, or it has no rule yet.")


@blp.route("/betas/<key>/who-to-ask")
@require_scope("members:read")
@refuses(NO_BETA, NO_METRIC)
@blp.arguments(WhoToAskQuerySchema, location="query")
@blp.response(200, AskListSchema)
def who_to_ask(query, key):
    """List the members who used it in the last N days, leaving out the cooldown and opt-outs."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    return asks.who_to_ask(
        session,
        beta,
        metric_id=query["metric"],
        days=query["days"],
        today=configured_today(),
        zone=settings().zone,
        cooldown_days=settings().ask_cooldown_days,
    )


@blp.route("/betas/<key>/asks", methods=["POST"])
@require_scope("members:write")
@refuses(
    NO_BETA,
    Refusal.of(
        Forbidden, "The token's user may not ask this beta's members: only its owner or an admin."
    ),
    Refusal.of(Conflict, "The beta is a draft: it has nobody to ask."),
    Refusal.of(Invalid, "An account is not in the beta, or it opted out, declined or was removed."),
)
@blp.arguments(NewAsksSchema)
@blp.response(201, AskedSchema)
def record_asks(data, key):
    """Record that accounts were asked for feedback; those in the cooldown are not asked twice."""
    beta = lifecycle.get_beta(get_session(), key)
    return commit(
        lambda s: asks.record_asks(
            s,
            current_actor(),
            beta,
            data["accounts"],
            data["channel"],
            now=utcnow(),
            zone=settings().zone,
            cooldown_days=settings().ask_cooldown_days,
        )
    )


# Patterns


class SplitSchema(Schema):
    """A number per cohort kind (`none`: accounts that were not members), and for everyone."""

    early_adopters = fields.Function(lambda s: s["early_adopters"])
    random_sample = fields.Function(lambda s: s["random_sample"])
    manual = fields.Function(lambda s: s["manual"])
    none = fields.Function(lambda s: s[patterns.NOT_A_MEMBER])
    all = fields.Function(
        lambda s: s.all,
        metadata={"description": "Everyone: for accounts, each counted once, not the sum."},
    )


class TypeCountSchema(Schema):
    """How many items were codified with a type."""

    type = fields.Str()
    items = fields.Nested(SplitSchema)


class ReasonGroupSchema(Schema):
    """Items whose reasons are the same once case, spacing and punctuation are folded."""

    key = fields.Str(metadata={"description": "The folded reason: the log's `reason_is`."})
    reason = fields.Str(metadata={"description": "The spelling used most often."})
    items = fields.Nested(SplitSchema)
    accounts = fields.Nested(SplitSchema, metadata={"description": "Distinct accounts."})


class OpenBlockerSchema(Schema):
    """A blocker still open."""

    id = fields.Int()
    account = fields.Str()
    cohort_kind = fields.Str(attribute="column", metadata={"description": "Or `none`."})
    summary = fields.Str(allow_none=True)
    logged_at = fields.DateTime()


class PatternsSchema(Schema):
    """The patterns of a beta's feedback, each number split by cohort kind."""

    beta = fields.Function(lambda p: p.beta.key)
    items = fields.Nested(SplitSchema)
    types = fields.List(fields.Nested(TypeCountSchema))
    reasons = fields.List(
        fields.Nested(ReasonGroupSchema),
        metadata={"description": f"The {patterns.TOP_REASONS} reasons with the most items."},
    )
    reason_count = fields.Int(metadata={"description": "How many reasons there are in all."})
    questions = fields.List(
        fields.Nested(ReasonGroupSchema),
        metadata={
            "description": f"The {patterns.TOP_REASONS} question and comprehension reasons "
            "asked most often, each more than once."
        },
    )
    question_count = fields.Int(
        metadata={"description": "How many reasons of questions were asked more than once."}
    )
    open_blockers = fields.Nested(SplitSchema)
    blockers = fields.List(fields.Nested(OpenBlockerSchema))
    uncodified = fields.Nested(SplitSchema)


@blp.route("/betas/<key>/feedback/patterns")
class BetaPatterns(MethodView):
    """The patterns in a beta's feedback."""

    @require_scope("feedback:read")
    @refuses(NO_BETA)
    @blp.response(200, PatternsSchema)
    def get(self, key):
        """Count by type, top reasons, repeated questions, open blockers, uncodified items."""
        session = get_session()
        beta = lifecycle.get_beta(session, key)
        return patterns.beta_patterns(session, beta, settings().feedback_types)


# Importing feedback kept elsewhere, as a sheet's rows sent as JSON items.

IMPORT_MAX_BYTES = 32 * 1024 * 1024
IMPORT_ENDPOINT = "feedback_api.import_feedback"


class FeedbackImportItemSchema(Schema):
    """One thing a customer said, as a row of a feedback sheet; only original and account needed."""

    original = fields.Str(required=True, metadata={"description": "Verbatim."})
    account = fields.Str(
        required=True, metadata={"description": "The account's id, or a name only it has."}
    )
    type = fields.Str(metadata={"description": "One of SHIPCALL_FEEDBACK_TYPES, or empty."})
    summary = fields.Str()
    reason = fields.Str()
    date = fields.Str(
        metadata={
            "description": "When it was said: 2026-10-02 (that day in SHIPCALL_TIMEZONE) or "
            "2026-10-02T14:30:00Z; left out, when imported."
        }
    )
    source = fields.Str(metadata={"description": "call, message, email, survey, in_app, other."})


class FeedbackImportSchema(Schema):
    """Feedback items to log in the beta, all or nothing."""

    items = unchecked_items(
        FeedbackImportItemSchema,
        required=True,
        metadata={
            "description": f"At most {importing.MAX_ROWS:,}.",
            "maxItems": importing.MAX_ROWS,
        },
    )


class FeedbackImportResultSchema(Schema):
    """How many items were logged."""

    created = fields.Int()
    updated = fields.Int(metadata={"description": "Always 0: an import only adds."})


@blp.before_request
def _allow_import_bodies():
    """Take bodies of up to 32 MB for imports: 10,000 items of feedback do not fit in 1 MB."""
    if request.endpoint != IMPORT_ENDPOINT:
        return
    if (request.content_length or 0) > IMPORT_MAX_BYTES:
        raise TooMuch(
            f"The body is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB: "
            "split the items into several requests."
        )
    request.max_content_length = IMPORT_MAX_BYTES


@blp.route("/betas/<key>/feedback/imports", methods=["POST"])
@require_scope("feedback:write")
@refuses(
    NO_BETA,
    NOT_EDITOR,
    DRAFT,
    Refusal.of(
        ImportFailed,
        "Some items are wrong (an unknown account or type, an original that is blank or too "
        "long, an unreadable date): nothing was logged. Details name each bad item's field, "
        "like items.3.type (the first 50).",
    ),
    Refusal.of(
        TooMuch,
        f"More than {importing.MAX_ROWS:,} items, or a body over "
        f"{IMPORT_MAX_BYTES // (1024 * 1024)} MB: split them into several requests.",
    ),
)
@blp.arguments(FeedbackImportSchema)
@blp.response(201, FeedbackImportResultSchema)
def import_feedback(data, key):
    """Log feedback kept elsewhere (a sheet's rows), all or nothing: the beta's owner or an admin.

    Each item is logged as if sent one at a time, its date as when it was said; the import is
    recorded in the beta's history and the import history, with the token that sent it.
    """
    items = data["items"]
    if len(items) > importing.MAX_ROWS:
        raise TooMuch(
            f"Send at most {importing.MAX_ROWS:,} items a request; this one has "
            f"{len(items):,}. Split them into several requests."
        )
    beta = lifecycle.get_beta(get_session(), key)
    actor = current_actor()
    found = settings()
    return commit(
        lambda s: importing.import_items(
            s,
            actor,
            beta,
            items,
            types=found.feedback_types,
            zone=found.zone,
            now=utcnow(),
            origin=Origin.api(actor),
        )
    )
