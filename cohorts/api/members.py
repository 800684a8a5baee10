"""The cohorts and members API: waves, enrollment, moves, opt-outs, and the membership check."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from betas import lifecycle
from betas.apidoc import NO_BETA, NOT_EDITOR, Refusal, refuses
from betas.apikit import commit, require_scope, slug_field
from betas.auth.web import current_actor
from betas.db import get_database, get_session
from betas.errors import Conflict, Invalid, NotFound
from betas.models import NAME_MAX, TEXT_MAX
from betas.web import configured_today
from cohorts import membership_check, memberships, waves
from cohorts.api import blp
from cohorts.api.refusals import NO_COHORT, NOT_RUNNING, OVERDUE
from cohorts.models import CohortKind

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
    beta_state = fields.Str(metadata={"description": "draft, running or decided"})
    decision = fields.Str(
        allow_none=True,
        metadata={"description": "ship or no_ship once decided (null before): on or off for all"},
    )


class MemberRowSchema(Schema):
    """One member as the product caches it."""

    account = fields.Str()
    status = fields.Str()
    cohort = fields.Str()
    enrolled_at = fields.DateTime()


class MemberListSchema(Schema):
    """Every member of a beta."""

    beta = fields.Str()
    beta_state = fields.Str(metadata={"description": "draft, running or decided"})
    decision = fields.Str(
        allow_none=True,
        metadata={"description": "ship or no_ship once decided (null before): on or off for all"},
    )
    members = fields.List(fields.Nested(MemberRowSchema))


@blp.route("/betas/<key>/members", methods=["GET"])
@require_scope("members:read")
@refuses(NO_BETA)
@blp.alt_response(200, schema=MemberListSchema)
@blp.alt_response(304, description="The list has not changed since the ETag you sent.")
def member_list(key):
    """List a beta's members with a strong ETag; If-None-Match with it answers 304."""
    version = membership_check.members_version(get_database(), key)
    etag = version.etag
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        members = membership_check.member_rows(get_session(), version.beta_id)
        response = jsonify(
            {
                "beta": key,
                "beta_state": version.beta_state,
                "decision": version.decision,
                "members": members,
            }
        )
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
            beta_state=check.beta_state,
            decision=check.decision,
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
