"""The JSON API for accounts, conversations, the early-adopter finder, cohorts and members."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from betas import auth, lifecycle
from betas.api import PREFIX, require_scope
from betas.db import get_session
from betas.models import KEY_MAX, KEY_PATTERN, NAME_MAX, TEXT_MAX
from cohorts import services
from cohorts.models import CohortKind

blp = Blueprint(
    "cohorts_api",
    __name__,
    url_prefix=PREFIX,
    description="Accounts and conversations in; early adopters found; cohorts and members.",
)

# --- Imports: accounts and conversations -------------------------------------------------------

# --- Finder: early-adopter search and problem searches -----------------------------------------

# --- Cohorts and members ----------------------------------------------------------------------


MAX_ACCOUNTS = 10_000


def _today():
    return lifecycle.today_in(current_app.config["SHIPCALL"].zone)


class CohortSchema(Schema):
    """A wave of a beta."""

    slug = fields.Str(
        required=True,
        validate=[
            validate.Length(1, KEY_MAX),
            validate.Regexp(KEY_PATTERN, error="Use lower-case letters, digits and hyphens."),
        ],
    )
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


class MembershipSchema(Schema):
    """An account's place in a beta."""

    beta = fields.Function(lambda m: m.beta.key)
    account = fields.Function(lambda m: m.account.external_id)
    cohort = fields.Function(lambda m: m.cohort.slug)
    status = fields.Function(lambda m: m.status.value)
    reason = fields.Str()
    enrolled_at = fields.DateTime()
    notified_at = fields.DateTime(allow_none=True)


@blp.route("/betas/<key>/cohorts", methods=["POST"])
@require_scope("members:write")
@blp.arguments(CohortSchema)
@blp.response(201, CohortSchema)
def create_cohort(data, key):
    """Add a cohort (a wave) to a running beta."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    cohort = services.create_cohort(session, auth.current_actor(), beta, today=_today(), **data)
    session.commit()
    return cohort


@blp.route("/betas/<key>/cohorts/<slug>/members", methods=["POST"])
@require_scope("members:write")
@blp.arguments(EnrollSchema)
@blp.response(200, EnrollmentSchema)
def enroll(data, key, slug):
    """Enroll accounts in a cohort; skipped accounts come back with the reason."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    result = services.enroll(
        session,
        auth.current_actor(),
        beta,
        services.get_cohort(session, beta, slug),
        data["accounts"],
        data["reason"],
        _today(),
        override_opt_out=data["override_opt_out"],
    )
    session.commit()
    return result


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
@blp.response(200, MemberListSchema)
@blp.alt_response(304, description="The list has not changed since the ETag you sent.")
def member_list(key):
    """List a beta's members with a strong ETag; If-None-Match with it answers 304."""
    session = get_session()
    beta_id, version = services.members_version(session, key)
    etag = f"{beta_id}-{version}"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = jsonify({"beta": key, "members": services.member_rows(session, beta_id)})
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.route("/betas/<key>/members/<path:account>")
class Member(MethodView):
    """One account's membership of a beta."""

    @require_scope("members:read")
    @blp.response(200, MembershipCheckSchema)
    def get(self, key, account):
        """Tell whether the account is in the beta; an account never seen is not enrolled."""
        return services.check_membership(get_session(), key, account)

    @require_scope("members:write")
    @blp.arguments(PlaceSchema)
    @blp.response(200, MembershipSchema)
    def put(self, data, key, account):
        """Put the account in a cohort: enroll it, or move it from another cohort."""
        session = get_session()
        beta = lifecycle.get_beta(session, key)
        membership = services.place_member(
            session,
            auth.current_actor(),
            beta,
            account,
            services.get_cohort(session, beta, data["cohort"]),
            data["reason"],
            _today(),
            override_opt_out=data["override_opt_out"],
        )
        session.commit()
        return membership

    @require_scope("members:write")
    @blp.response(200, MembershipSchema)
    def delete(self, key, account):
        """Opt the account out of the beta, on the customer's behalf; it is kept forever."""
        session = get_session()
        beta = lifecycle.get_beta(session, key)
        membership = services.opt_out(session, auth.current_actor(), beta, account)
        session.commit()
        return membership
