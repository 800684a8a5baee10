"""The spreadsheet pages: link a beta's sheet, see its sync, settle conflicts, restore rows.

Anyone signed in sees how the sheet stands; linking, settling and restoring are for the beta's
owner and admins. Without Google credentials the page says how to connect a sheet.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from betas import lifecycle, web
from betas.auth.permissions import EDITORS
from betas.auth.web import current_actor, role_required
from betas.db import end_reads, get_session
from betas.errors import Invalid
from feedback import log, sheet_links
from feedback.forms import SettleForm, SheetLinkForm
from feedback.sheets import Sheets, SheetsError, service_account_email

sheet = Blueprint("sheet", __name__)


def _page(key: str, status: int = 200, form: SheetLinkForm | None = None):
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    credentials = web.settings().google_credentials
    email, problem = "", ""
    if credentials:
        try:
            email = service_account_email(credentials)
        except SheetsError as exc:
            problem = exc.message
    link_form = form or SheetLinkForm(formdata=None)
    state = sheet_links.sheet_state(session, beta)
    if form is None and state.link is not None:
        link_form.spreadsheet.data = state.link.spreadsheet_id
    return render_template(
        "feedback/sheet.html",
        beta=beta,
        state=state,
        email=email,
        problem=problem,
        configured=bool(credentials),
        form=link_form,
        action=web.ActionForm(),
    ), status


@sheet.get("/betas/<key>/sheet")
def sheet_page(key):
    """Show the beta's spreadsheet: whom to share it with, its sync, what waits for a PM."""
    return _page(key)


@sheet.route("/betas/<key>/sheet/link", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("sheet.sheet_page", key=key))
@role_required(*EDITORS)
def link(key):
    """Link the spreadsheet after checking the service account may edit it."""
    beta = web.editable_beta(key)
    form = SheetLinkForm()
    if form.validate_on_submit():
        try:
            sheets = Sheets.from_settings(web.settings())
        except SheetsError as exc:
            form.spreadsheet.errors = [exc.message]
            return _page(key, 422, form)
        end_reads(get_session())
        try:
            checked = sheet_links.check_sheet(form.spreadsheet.data or "", sheets)
        except Invalid as exc:
            web.show_refusal(form, exc)
            return _page(key, 422, form)
        if web.commit(
            lambda s: sheet_links.link_sheet(s, current_actor(), beta, checked),
            form=form,
            success="Spreadsheet linked: its header row is written and frozen.",
        ):
            return redirect(url_for("sheet.sheet_page", key=key, _anchor="sync"))
    return _page(key, 422, form)


@sheet.route("/feedback/conflicts/<int:conflict_id>", methods=["GET", "POST"])
@web.reload_goes_to(lambda conflict_id: url_for("hub.dashboard"))
@role_required(*EDITORS)
def settle(conflict_id):
    """Settle a conflict with the value a PM keeps."""
    form = SettleForm()
    conflict = sheet_links.get_conflict(get_session(), conflict_id)
    item_id = conflict.feedback_item_id
    web.editable_beta(conflict.item.beta.key)
    if form.validate_on_submit():
        web.commit(
            lambda s: sheet_links.settle_conflict(
                s, current_actor(), conflict_id, form.side.data, types=web.settings().feedback_types
            ),
            success="Conflict settled: the sheet gets the value kept at the next sync.",
        )
    else:
        flash("Choose which value to keep: Shipcall's or the sheet's.", "error")
    return redirect(url_for("feedback.item_page", item_id=item_id, _anchor="sheet"))


@sheet.route("/feedback/<int:item_id>/restore-row", methods=["GET", "POST"])
@web.reload_goes_to(lambda item_id: url_for("feedback.item_page", item_id=item_id))
@role_required(*EDITORS)
def restore(item_id):
    """Put back in the sheet an item's row that people deleted there."""
    item = log.get_item(get_session(), item_id)
    web.editable_beta(item.beta.key)
    if web.ActionForm().validate_on_submit():
        web.commit(
            lambda s: sheet_links.restore_row(s, current_actor(), item),
            success=f"Row of feedback item {item_id} restored: the next sync writes it again.",
        )
    return redirect(url_for("sheet.sheet_page", key=item.beta.key, _anchor="deleted"))
