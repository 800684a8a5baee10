"""The hub pages: the dashboard of every beta, and a beta's page with what each package knows."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from betas import lifecycle, web
from betas.audit import beta_history
from betas.db import get_session
from betas.forms import ExtensionForm, MetricForm
from betas.models import Beta, BetaState
from cohorts import roster, waves
from feedback import sheet_links
from feedback.forms import log_form

hub = Blueprint("hub", __name__)


@hub.get("/")
def dashboard():
    """Show every beta, most urgent first, with its number of active members."""
    session = get_session()
    today = web.configured_today()
    rows = sorted(lifecycle.list_betas(session), key=lambda b: lifecycle.urgency(b, today))
    counts = roster.member_counts(session, [b.id for b in rows])
    return render_template("shipcall/dashboard.html", betas=rows, counts=counts)


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
