"""The Who to ask page: the members who use it, the beta message, exporting and recording asks.

Anyone signed in reads the list; the beta's owner and admins export it (which records an ask
for each account on it, in the export's own transaction) and record asks made elsewhere.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for

from betas import lifecycle, web
from betas.auth.permissions import EDITORS
from betas.auth.web import current_actor, role_required
from betas.db import get_session, utcnow
from betas.errors import DomainError
from betas.models import Beta
from betas.wording import plural
from feedback import asks
from feedback.forms import AskForm, ExportAsksForm, WhoToAskForm

ask_pages = Blueprint("asks", __name__)


def _choice(form: WhoToAskForm, beta: Beta) -> WhoToAskForm:
    form.offer(beta.metrics)
    return form


def _page(beta: Beta, wanted: WhoToAskForm, status: int = 200, **failed_forms):
    session = get_session()
    found = None
    if wanted.validate():
        try:
            found = asks.who_to_ask(
                session,
                beta,
                metric_id=wanted.metric.data,
                days=wanted.days.data,
                today=web.configured_today(),
                zone=web.settings().zone,
                cooldown_days=web.settings().ask_cooldown_days,
            )
        except DomainError as exc:
            web.show_refusal(wanted, exc)
    if found is None and status == 200:
        status = 400
    export_form = failed_forms.pop("export_form", None) or ExportAsksForm(formdata=None)
    export_form.metric.data = wanted.metric.data if wanted.metric.data is not None else ""
    export_form.days.data = wanted.days.data
    page = render_template(
        "feedback/who_to_ask.html",
        beta=beta,
        wanted=wanted,
        found=found,
        export_form=export_form,
        ask_form=failed_forms.pop("ask_form", None) or AskForm(formdata=None),
        recent=asks.recent_asks(session, beta),
        cooldown_days=web.settings().ask_cooldown_days,
    )
    return page, status


@ask_pages.get("/betas/<key>/who-to-ask")
def who_to_ask(key):
    """List the members who used it in the last N days, and how many were left out and why."""
    beta = lifecycle.get_beta(get_session(), key)
    # Opened without a choice (from the beta's page), it lists with the defaults.
    wanted = WhoToAskForm(formdata=request.args or None)
    return _page(beta, _choice(wanted, beta))


@ask_pages.route("/betas/<key>/who-to-ask.csv", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("asks.who_to_ask", key=key))
@role_required(*EDITORS)
def export(key):
    """Download who to ask as CSV for the messaging tool, recording an ask for each."""
    beta = web.editable_beta(key)
    form = ExportAsksForm()
    wanted = _choice(
        WhoToAskForm(formdata=None, metric=_metric_of(form), days=_days_of(form)), beta
    )
    if form.validate_on_submit():
        done = web.commit(
            lambda s: asks.export_asks(
                s,
                current_actor(),
                beta,
                form.channel.data,
                metric_id=wanted.metric.data,
                days=wanted.days.data,
                now=utcnow(),
                zone=web.settings().zone,
                cooldown_days=web.settings().ask_cooldown_days,
            ),
            form=form,
        )
        if done:
            return Response(
                asks.ask_list_csv(done.value, web.settings().zone),
                mimetype="text/csv",
                headers={
                    "Content-Disposition": f'attachment; filename="{beta.key}-who-to-ask.csv"'
                },
            )
    return _page(beta, wanted, 422, export_form=form)


def _metric_of(form: ExportAsksForm) -> int | None:
    text = (form.metric.data or "").strip()
    return int(text) if text.isdigit() else None


def _days_of(form: ExportAsksForm) -> int:
    text = (form.days.data or "").strip()
    return int(text) if text.isdigit() else asks.DEFAULT_DAYS


@ask_pages.route("/betas/<key>/asks", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("asks.who_to_ask", key=key, _anchor="asks"))
@role_required(*EDITORS)
def record(key):
    """Record by hand that accounts were asked for feedback (those in the cooldown are not)."""
    beta = web.editable_beta(key)
    form = AskForm()
    if form.validate_on_submit():
        done = web.commit(
            lambda s: asks.record_asks(
                s,
                current_actor(),
                beta,
                form.account_ids(),
                form.channel.data,
                now=utcnow(),
                zone=web.settings().zone,
                cooldown_days=web.settings().ask_cooldown_days,
            ),
            form=form,
            success=_said,
        )
        if done:
            return redirect(url_for("asks.who_to_ask", key=key, _anchor="asks"))
    wanted = _choice(WhoToAskForm(formdata=None), beta)
    return _page(beta, wanted, 422, ask_form=form)


def _said(done: asks.Asked) -> str:
    asked = f"Recorded {plural(len(done.asked), 'ask')}."
    if done.cooldown:
        asked += f" Not asked, asked too recently: {', '.join(done.cooldown)}."
    return asked
