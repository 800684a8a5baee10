"""The call pages: a beta's calls, planning one, and a call's page, which prepares for it.

A call's page shows what to know before it (why the account is in, its cohort, what it has and
hasn't done, what it said before, its other betas) and, after it, takes what was said, one item
after another, without leaving the page: each logged item appears on it, and a refused one
keeps every character typed. `init_app` adds the account's calls to the account page.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, redirect, render_template, url_for
from flask_login import current_user

from betas import lifecycle, web
from betas.auth.permissions import EDITORS
from betas.auth.web import current_actor, role_required
from betas.db import get_session
from betas.models import User
from feedback import calls
from feedback.forms import CallForm, ChangeCallForm, call_item_form
from feedback.models import Call

call_pages = Blueprint("calls", __name__)


def _teammates() -> list[User]:
    return calls.teammates(get_session())


def _new_form(**kwargs) -> CallForm:
    form = CallForm(**kwargs)
    form.offer(_teammates())
    return form


def _list_page(key: str, status: int = 200, form: CallForm | None = None):
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    page = render_template(
        "feedback/calls.html",
        beta=beta,
        rows=calls.list_calls(session, beta),
        form=form or _new_form(formdata=None),
    )
    return page, status


@call_pages.get("/betas/<key>/calls")
def call_list(key):
    """List the beta's calls, the latest first; its owner plans a new one here."""
    return _list_page(key)


@call_pages.post("/betas/<key>/calls")
@role_required(*EDITORS)
def new_call(key):
    """Plan a call with an account of the beta: when, who attends, what to ask."""
    beta = web.editable_beta(key)
    form = _new_form()
    if form.validate_on_submit():
        done = web.commit(
            lambda s: calls.create_call(
                s,
                current_actor(),
                beta,
                account=form.account.data or "",
                **form.values(web.settings().zone),
            ),
            form=form,
            success=lambda call: f"Call with {call.account.external_id} planned.",
        )
        if done:
            return redirect(
                url_for("calls.call_page", key=key, call_id=done.value.id, _anchor="prepare")
            )
    return _list_page(key, 422, form)


def _call(key: str, call_id: int) -> Call:
    session = get_session()
    return calls.get_call(session, lifecycle.get_beta(session, key), call_id)


def _change_form(**kwargs) -> ChangeCallForm:
    form = ChangeCallForm(**kwargs)
    form.offer(_teammates())
    return form


def _call_page(key: str, call_id: int, status: int = 200, **failed_forms):
    call = _call(key, call_id)
    change_form = _change_form(formdata=None, obj=call)
    change_form.held_at.data = call.held_at.astimezone(web.settings().zone).replace(tzinfo=None)
    change_form.attendees.data = [u.id for u in call.attendees]
    forms = {
        "change_form": change_form,
        "item_form": call_item_form(web.settings().feedback_types, formdata=None),
        **failed_forms,
    }
    page = render_template(
        "feedback/call.html",
        beta=call.beta,
        call=call,
        prep=calls.prepare(get_session(), call, web.configured_today()),
        may_change=calls.may_change(current_user, call),
        **forms,
    )
    return page, status


@call_pages.get("/betas/<key>/calls/<int:call_id>")
def call_page(key, call_id):
    """Show a call: what to know before it, its questions and notes, what was said on it."""
    return _call_page(key, call_id)


@call_pages.route("/betas/<key>/calls/<int:call_id>/change", methods=["GET", "POST"])
@web.reload_goes_to(lambda key, call_id: url_for("calls.call_page", key=key, call_id=call_id))
def change_call(key, call_id):
    """Change a call's time, attendees, questions or notes: its attendees and the beta's owner."""
    call = _call(key, call_id)
    if not calls.may_change(current_user, call):
        abort(403)
    form = _change_form()
    if form.validate_on_submit() and web.commit(
        lambda s: calls.change_call(s, current_actor(), call, form.values(web.settings().zone)),
        form=form,
        success="Call saved.",
    ):
        return redirect(url_for("calls.call_page", key=key, call_id=call_id, _anchor="call"))
    return _call_page(key, call_id, 422, change_form=form)


@call_pages.route("/betas/<key>/calls/<int:call_id>/items", methods=["GET", "POST"])
@web.reload_goes_to(lambda key, call_id: url_for("calls.call_page", key=key, call_id=call_id))
def log_item(key, call_id):
    """Log one thing said on the call and come back to the form for the next."""
    call = _call(key, call_id)
    types = web.settings().feedback_types
    form = call_item_form(types)
    if form.validate_on_submit() and web.commit(
        lambda s: calls.log_from_call(
            s,
            current_actor(),
            call,
            original=form.original.data or "",
            types=types,
            type=form.type.data or None,
            summary=form.summary.data,
            reason=form.reason.data,
        ),
        form=form,
        success=lambda item: f"Feedback item {item.id} logged from this call.",
    ):
        return redirect(url_for("calls.call_page", key=key, call_id=call_id, _anchor="said"))
    return _call_page(key, call_id, 422, item_form=form)


def account_panel(external_id: str) -> str:
    """Render the account's calls in every beta ("" when it had none)."""
    found = calls.account_calls(get_session(), external_id)
    if not found:
        return ""
    return render_template("feedback/account_calls.html", calls=found)


def init_app(app: Flask) -> None:
    """Add the account's calls to the account page."""
    web.register_account_panel(app, account_panel)
