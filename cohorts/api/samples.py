"""The random-sample API: a reproducible draw into a random-sample cohort, or its preview."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from betas import lifecycle
from betas.apidoc import NOT_EDITOR, Refusal, refuses
from betas.apikit import commit, require_scope
from betas.auth.web import current_actor
from betas.db import get_session
from betas.errors import Invalid
from betas.web import configured_today
from cohorts import sample_specs, sampling, waves
from cohorts.api import blp
from cohorts.api.refusals import NO_COHORT, NOT_RUNNING, OVERDUE


class SampleRequestSchema(Schema):
    """A random sample of accounts that never asked, to draw into a random-sample cohort."""

    size = fields.Int(required=True, validate=validate.Range(1, sample_specs.MAX_SIZE))
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
            sample_specs.SampleSpec(**data),
            configured_today(),
            dry_run=dry_run,
        )
    )
