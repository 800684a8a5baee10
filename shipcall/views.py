"""The hub pages: the dashboard, a beta's page, its review, and its ship / no-ship decisions.

The beta's page and the review show what every package knows, so the roof draws them. The
decision is posted from the review: the roof gathers what its rules take (the open blockers, the
metrics never measured, the snapshot) and hands them to the core as plain values.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import current_user

from betas import checkpoints, decisions, lifecycle, web
from betas.audit import beta_history
from betas.auth import permissions
from betas.auth.web import current_actor
from betas.db import get_session, stores
from betas.forms import (
    CheckpointForm,
    DecisionForm,
    ExtensionForm,
    MetricForm,
    ReopenForm,
    ShipMessageForm,
    ToldForm,
    decision_form,
)
from betas.models import Beta, BetaState, Outcome, Role
from cohorts import roster, ship_notices, waves
from feedback import patterns, sheet_links
from feedback.forms import log_form, log_linker
from shipcall import requesters, review
from usage import values

hub = Blueprint("hub", __name__)


@hub.get("/")
def dashboard():
    """Show every beta, most urgent first, with its number of active members."""
    session = get_session()
    today = web.configured_today()
    rows = sorted(lifecycle.list_betas(session), key=lambda b: lifecycle.urgency(b, today))
    counts = roster.member_counts(session, [b.id for b in rows])
    return render_template(
        "shipcall/dashboard.html",
        betas=rows,
        counts=counts,
        checkpoints_due=checkpoints.due(session, today),
    )


@hub.get("/betas/<key>")
def beta(key):
    """Show a beta: framing, launch checklist, cohorts, metrics, deadline and history.

    `?history=N` shows the Nth page of its history (newest first).
    """
    page = request.args.get("history", 1, type=int)
    return render_beta(lifecycle.get_beta(get_session(), key), history_page=page)


def render_beta(beta: Beta, history_page: int = 1, **failed_forms) -> str:
    """Render a beta's page; a form that failed is passed in so it keeps what was typed."""
    session = get_session()
    forms = {
        "metric_form": MetricForm(formdata=None),
        "extension_form": ExtensionForm(formdata=None),
        "feedback_form": log_form(web.settings().feedback_types, formdata=None),
        **failed_forms,
    }
    problems = []
    if beta.state == BetaState.DRAFT:
        problems = lifecycle.launch_problems(
            session, beta, web.configured_today(), web.launch_requirements()
        )
    return render_template(
        "shipcall/beta.html",
        beta=beta,
        problems=problems,
        history=beta_history(session, beta, history_page),
        cohorts=waves.list_cohorts(session, beta),
        cohort_counts=roster.cohort_counts(session, beta),
        sheet=sheet_links.sheet_state(session, beta),
        action=web.ActionForm(),
        max_extensions=web.settings().max_extensions,
        max_extension_days=web.settings().max_extension_days,
        **forms,
    )


# The review and the decision


def _review(key: str) -> review.Review:
    session = get_session()
    beta = review.load_beta(session, key)
    settings = web.settings()
    return review.gather(
        session, beta, web.configured_today(), settings.zone, settings.feedback_types
    )


def render_review(found: review.Review, form: DecisionForm | None = None, status: int = 200):
    """Render the review page; a decision form that failed keeps what was typed."""
    beta = found.beta
    deciding = beta.state == BetaState.RUNNING and permissions.can_edit(current_user, beta)
    if form is None and deciding:
        blockers, metrics = review.waivables(found)
        form = decision_form(blockers + metrics, formdata=None)
    return render_template(
        "shipcall/review.html",
        beta=beta,
        review=found,
        form=form if deciding else None,
        verdicts=review.Verdict,
        columns=patterns.COLUMNS,
        log_href=log_linker(beta.key),
    ), status


@hub.get("/betas/<key>/review")
@stores
def review_page(key):
    """Show the ship / no-ship review: evidence against the framing, and a recommendation."""
    # Committed: the metric values computed from the rollup are stored for the next request.
    return render_review(web.storing(lambda _session: _review(key)))


@hub.route("/betas/<key>/decision", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("hub.review_page", key=key, _anchor="decide"))
def decide(key):
    """Record the ship / no-ship call (the beta's owner or an admin), freezing the review."""
    found = _review(key)
    beta = found.beta
    if not permissions.can_edit(current_user, beta):
        abort(403)
    blockers, metrics = review.waivables(found)
    form = decision_form(blockers + metrics)
    if form.validate_on_submit():
        done = web.commit(
            lambda s: decisions.decide(
                s,
                current_actor(),
                beta,
                **form.values(),
                open_blockers=blockers,
                never_measured=metrics,
                snapshot=review.snapshot(found),
                today=web.configured_today(),
            ),
            form=form,
            success=lambda d: f"Decided: {'ship' if d.outcome.value == 'ship' else 'no-ship'}.",
        )
        if done:
            return redirect(
                url_for("hub.decision_page", key=key, decision_id=done.value.id, _anchor="decision")
            )
    return render_review(found, form, 422)


@hub.get("/betas/<key>/decisions")
def decision_list(key):
    """List every decision of a beta, the standing one and those set aside by a reopen."""
    beta = review.load_beta(get_session(), key)
    return render_template("shipcall/decisions.html", beta=beta)


@hub.get("/betas/<key>/decisions/<int:decision_id>")
def decision_page(key, decision_id):
    """Show a decision with the review it was made on, as it stood then."""
    beta = review.load_beta(get_session(), key)
    decision = decisions.get_decision(beta, decision_id)
    return render_decision(beta, decision)


def render_decision(beta: Beta, decision, form: ReopenForm | None = None, status: int = 200):
    """Render a decision's page; the reopen form (admins) keeps what was typed when it failed."""
    reopening = decision is beta.decision and current_user.role == Role.ADMIN
    return render_template(
        "shipcall/decision.html",
        beta=beta,
        decision=decision,
        snap=decision.snapshot,
        questions=decisions.QUESTIONS,
        form=(form or ReopenForm(formdata=None)) if reopening else None,
    ), status


@hub.route("/betas/<key>/reopen", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("hub.decision_list", key=key))
def reopen(key):
    """Reopen a decided beta with a reason (admins); its decision stays in the record."""
    beta = review.load_beta(get_session(), key)
    if current_user.role != Role.ADMIN:
        abort(403)
    if beta.decision is None:
        abort(409, f"{beta.name} is not decided: there is nothing to reopen.")
    standing = beta.decision
    form = ReopenForm()
    if form.validate_on_submit() and web.commit(
        lambda s: decisions.reopen(s, current_actor(), beta, reason=form.reason.data),
        form=form,
        success="The beta is running again; its decision stays in the record.",
    ):
        return redirect(url_for("hub.beta", key=key, _anchor="deadline"))
    return render_decision(beta, standing, form, 422)


# Outcome checkpoints after a ship


def render_checkpoint(beta: Beta, checkpoint, form: CheckpointForm | None = None, status=200):
    """Render a checkpoint: the metrics now beside the decision's, and its report or form."""
    session = get_session()
    today = web.configured_today()
    now = review.remeasured(
        values.metric_values(session, beta, today, web.settings().zone),
        checkpoint.decision.snapshot,
    )
    reporting = (
        checkpoint.reported_at is None
        and checkpoint.due_on <= today
        and checkpoint.decision is beta.decision
        and permissions.can_edit(current_user, beta)
    )
    return render_template(
        "shipcall/checkpoint.html",
        beta=beta,
        checkpoint=checkpoint,
        remeasured=checkpoint.measured if checkpoint.reported_at else now,
        questions=checkpoints.QUESTIONS,
        form=(form or CheckpointForm(formdata=None)) if reporting else None,
    ), status


@hub.route("/betas/<key>/checkpoints/<int:checkpoint_id>", methods=["GET", "POST"])
@stores
def checkpoint_page(key, checkpoint_id):
    """Show an outcome checkpoint; post its report (the beta's owner or an admin) once due."""
    session = get_session()
    beta = review.load_beta(session, key)
    checkpoint = checkpoints.get_checkpoint(beta, checkpoint_id)
    if request.method == "GET":
        # Committed: the metric values re-measured are stored, not counted from the launch
        # again on every view.
        return web.storing(lambda _session: render_checkpoint(beta, checkpoint))
    if not permissions.can_edit(current_user, beta):
        abort(403)
    form = CheckpointForm()
    today = web.configured_today()
    if form.validate_on_submit() and web.commit(
        lambda s: checkpoints.report(
            s,
            current_actor(),
            beta,
            checkpoint,
            solved=form.solved.data or "",
            outcomes=form.outcomes.data or "",
            actions=form.action_rows(),
            measured=review.remeasured(
                values.metric_values(s, beta, today, web.settings().zone),
                checkpoint.decision.snapshot,
            ),
            today=today,
        ),
        form=form,
        success=f"The {checkpoint.months}-month checkpoint is reported.",
    ):
        return redirect(
            url_for("hub.checkpoint_page", key=key, checkpoint_id=checkpoint_id, _anchor="report")
        )
    return render_checkpoint(beta, checkpoint, form, 422)


# Closing the loop after a ship


def _shipped(key: str) -> Beta:
    beta = review.load_beta(get_session(), key)
    if beta.decision is None or beta.decision.outcome != Outcome.SHIP:
        abort(404, f"{beta.name} has not shipped: there is no one to tell yet.")
    return beta


def _told_form(rows, **kwargs) -> ToldForm:
    form = ToldForm(**kwargs)
    form.accounts.choices = [(r.external_id, r.name or r.external_id) for r in rows]
    return form


def render_requesters(beta: Beta, status: int = 200, **failed_forms):
    """Render the accounts that asked for it; a failed form keeps what was typed."""
    rows = requesters.requesters(get_session(), beta)
    forms = {
        "message_form": ShipMessageForm(formdata=None, message=beta.decision.ship_message),
        "told_form": _told_form(rows, formdata=None),
        **failed_forms,
    }
    return render_template(
        "shipcall/requesters.html",
        beta=beta,
        requesters=rows,
        editing=permissions.can_edit(current_user, beta),
        **forms,
    ), status


@hub.get("/betas/<key>/requesters")
def requester_list(key):
    """List the accounts that asked for a shipped feature, to tell them, and who was told."""
    return render_requesters(_shipped(key))


@hub.get("/betas/<key>/requesters.csv")
def requesters_csv(key):
    """Download the accounts that asked for it, with the evidence and the ship's message."""
    beta = _shipped(key)
    rows = requesters.requesters(get_session(), beta)
    return Response(
        requesters.requesters_csv(beta, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{beta.key}-requesters.csv"'},
    )


@hub.route("/betas/<key>/requesters/message", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("hub.requester_list", key=key))
def ship_message(key):
    """Set the message for the accounts that asked for it (the beta's owner or an admin)."""
    beta = _shipped(key)
    if not permissions.can_edit(current_user, beta):
        abort(403)
    form = ShipMessageForm()
    if form.validate_on_submit() and web.commit(
        lambda s: decisions.set_ship_message(s, current_actor(), beta, message=form.message.data),
        form=form,
        success="The message is saved: the CSV carries it.",
    ):
        return redirect(url_for("hub.requester_list", key=key, _anchor="message"))
    return render_requesters(beta, 422, message_form=form)


@hub.route("/betas/<key>/requesters/told", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("hub.requester_list", key=key))
def mark_told(key):
    """Mark the ticked accounts as told that it shipped (the beta's owner or an admin)."""
    beta = _shipped(key)
    if not permissions.can_edit(current_user, beta):
        abort(403)
    form = _told_form(requesters.requesters(get_session(), beta))
    if form.validate_on_submit() and web.commit(
        lambda s: ship_notices.mark_told(s, current_actor(), beta, form.accounts.data or []),
        form=form,
        success=lambda n: f"{n} account{'s' if n != 1 else ''} marked as told.",
    ):
        return redirect(url_for("hub.requester_list", key=key, _anchor="requesters"))
    return render_requesters(beta, 422, told_form=form)
