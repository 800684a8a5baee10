"""The finder API: accounts whose customers asked, with evidence; saved problem searches."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from betas import lifecycle
from betas.apidoc import NO_BETA, NOT_EDITOR, Refusal, refuses
from betas.apikit import commit, require_scope
from betas.auth.web import current_actor
from betas.db import get_session, read_only
from betas.errors import Conflict
from betas.web import settings
from cohorts import finder
from cohorts.api import blp
from cohorts.api.refusals import BAD_QUERY


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
