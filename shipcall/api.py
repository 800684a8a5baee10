"""The review and the decision in the JSON API: read the review, decide, read the decision.

The review reads every package, so its routes live in the roof, as its pages do. The review
answers in the shape the decision's snapshot keeps (shipcall.review.as_json), so that what a
decision was made on reads the same as the live review.
"""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from betas import decisions
from betas.apidoc import NO_BETA, NOT_EDITOR, Refusal, refuses
from betas.apikit import PREFIX, commit, require_scope
from betas.auth.web import current_actor
from betas.db import get_session, stores
from betas.errors import BetaNotRunning, BlockersOpen, Invalid, NotFound, NotMeasured
from betas.models import NAME_MAX, TEXT_MAX, Outcome
from betas.web import configured_today, settings
from shipcall import review

blp = Blueprint(
    "review_api", __name__, url_prefix=PREFIX, description="The ship / no-ship review and call."
)

SERIES = (
    "Each series is {cohort, name, kind, met, days: [[day, members, accounts, value], ...]}: "
    "the members at the day's end, those meeting the rule, and the value (null without members)."
)


class RecommendationSchema(Schema):
    """What the evidence recommends, never enforced."""

    verdict = fields.Str(metadata={"description": "ship, discuss or not_yet"})
    reasons = fields.List(fields.Str())


class ReviewSchema(Schema):
    """The review: the framing, a recommendation, and the evidence by section."""

    beta = fields.Dict(
        metadata={
            "description": "key, name, state, problem, learning_goals, "
            "customer_outcome, business_outcomes, owner"
        }
    )
    as_of = fields.Str(metadata={"description": "The day the review was read (YYYY-MM-DD)."})
    recommendation = fields.Nested(RecommendationSchema)
    metrics = fields.List(
        fields.Dict(),
        metadata={
            "description": "Each metric: id, name, stage, target, unit, direction, status "
            "(met, not_met, not_measured), cohorts (a series each) and all_members. " + SERIES
        },
    )
    feedback = fields.Dict(
        metadata={
            "description": "total, by_type [{type, count, by_cohort_kind}], uncodified, "
            "top_reasons and repeated_questions [{reason, items, accounts, by_cohort_kind}], "
            "open_blockers [{id, account, account_name, cohort_kind, original, logged_at}]; "
            "by_cohort_kind: {early_adopters, random_sample, manual, none: n}, zeros left out"
        }
    )
    outreach = fields.Dict(
        metadata={"description": "asks_sent (feedback asks, one per account asked), calls_held"}
    )
    cohorts = fields.List(
        fields.Dict(), metadata={"description": "[{slug, name, kind, members: {status: n}}]"}
    )
    deadline = fields.Dict(
        metadata={
            "description": "deadline, days_left (negative once overdue), overdue, extensions "
            "[{old_deadline, new_deadline, reason, by}]"
        }
    )


class AnswersSchema(Schema):
    """The answers to the guide's three questions before the final call."""

    solved = fields.Str(
        required=True,
        validate=validate.Length(1, TEXT_MAX),
        metadata={"description": decisions.QUESTIONS["solved"]},
    )
    replaces_existing = fields.Str(
        required=True,
        validate=validate.Length(1, TEXT_MAX),
        metadata={"description": decisions.QUESTIONS["replaces_existing"]},
    )
    marketing = fields.Str(
        required=True,
        validate=validate.Length(1, TEXT_MAX),
        metadata={"description": decisions.QUESTIONS["marketing"]},
    )


class ParticipantsSchema(Schema):
    """Who took part: the approver (the token's user when left out), contributors, informed."""

    approver = fields.Str(validate=validate.Length(max=NAME_MAX))
    contributors = fields.List(fields.Str(validate=validate.Length(1, NAME_MAX)))
    informed = fields.List(fields.Str(validate=validate.Length(1, NAME_MAX)))


class WaiverSchema(Schema):
    """A ship despite one item: an open blocker (its feedback id) or a metric never measured."""

    feedback = fields.Int(metadata={"description": "An open blocker's feedback item id."})
    metric = fields.Int(metadata={"description": "A never-measured metric's id."})
    reason = fields.Str(required=True, validate=validate.Length(1, TEXT_MAX))

    @validates_schema
    def _one_item(self, data, **_kwargs):
        if ("feedback" in data) == ("metric" in data):
            raise ValidationError("Name either a feedback item or a metric.", "feedback")


class DecisionBodySchema(Schema):
    """A ship / no-ship call with its reasons; a ship waives what stands in its way."""

    outcome = fields.Str(required=True, validate=validate.OneOf([o.value for o in Outcome]))
    rationale = fields.Str(required=True, validate=validate.Length(1, TEXT_MAX))
    answers = fields.Nested(AnswersSchema, required=True)
    learned = fields.Str(load_default="", validate=validate.Length(max=TEXT_MAX))
    participants = fields.Nested(ParticipantsSchema, load_default=None)
    waivers = fields.List(fields.Nested(WaiverSchema), load_default=list)


class DecisionSchema(Schema):
    """A recorded call, its reasons, and the review it was made on, frozen."""

    id = fields.Int()
    beta = fields.Function(lambda d: d.beta.key)
    outcome = fields.Function(lambda d: d.outcome.value, metadata={"description": "ship, no_ship"})
    rationale = fields.Str()
    answers = fields.Dict(metadata={"description": "solved, replaces_existing, marketing"})
    learned = fields.Str()
    participants = fields.Dict(metadata={"description": "approver, contributors, informed"})
    waivers = fields.List(
        fields.Dict(), metadata={"description": "[{kind: feedback | metric, id, label, reason}]"}
    )
    decided_by = fields.Function(lambda d: d.user.email)
    created_at = fields.DateTime()
    snapshot = fields.Dict(
        metadata={
            "description": "The review when deciding, frozen, as GET /betas/{key}/review reads, "
            "with the waivers and days_kept_every (1 unless a long series was thinned)."
        },
    )


def _gathered(key: str) -> review.Review:
    session = get_session()
    return review.gather(
        session,
        review.load_beta(session, key),
        configured_today(),
        settings().zone,
        settings().feedback_types,
    )


@blp.route("/betas/<key>/review")
@stores
@require_scope("betas:read")
@refuses(NO_BETA)
@blp.response(200, ReviewSchema)
def read_review(key):
    """Read the review: the framing, the recommendation, metrics, feedback, cohorts, deadline."""
    # Committed: the metric values computed from the rollup are stored for the next request.
    return commit(lambda _session: review.as_json(_gathered(key)))


@blp.route("/betas/<key>/decision", methods=["POST"])
@require_scope("betas:write")
@refuses(
    NO_BETA,
    NOT_EDITOR,
    Refusal.of(BetaNotRunning, "The beta is not running: a draft, or decided already."),
    BlockersOpen,
    NotMeasured,
    Refusal.of(Invalid, "The rationale or an answer is blank, or a waiver names nothing to waive."),
)
@blp.arguments(DecisionBodySchema)
@blp.response(201, DecisionSchema)
def decide(data, key):
    """Decide a running beta: ship (each open blocker and never-measured metric waived) or not."""
    found = _gathered(key)
    blockers, metrics = review.waivables(found)
    waivers = [
        decisions.Waiver(
            "feedback" if "feedback" in w else "metric",
            w.get("feedback", w.get("metric")),
            w["reason"],
        )
        for w in data.pop("waivers")
    ]
    return commit(
        lambda s: decisions.decide(
            s,
            current_actor(),
            found.beta,
            **data,
            waivers=waivers,
            open_blockers=blockers,
            never_measured=metrics,
            snapshot=review.snapshot(found),
            today=configured_today(),
        )
    )


@blp.route("/betas/<key>/decision")
@require_scope("betas:read")
@refuses(Refusal.of(NotFound, "No beta has this key, or the beta is not decided."))
@blp.response(200, DecisionSchema)
def read_decision(key):
    """Read the standing decision with the review it was made on; 404 until decided."""
    return decisions.get_decision(review.load_beta(get_session(), key))
