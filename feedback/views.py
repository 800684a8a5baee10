"""The feedback pages: the quick log on the beta's page, the log with filters, an item's page.

Anyone signed in reads and logs feedback; codifying and resolving are for the beta's owner and
admins. A form that fails renders its page again with everything typed.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, redirect, render_template, request, url_for

from betas import lifecycle, web
from betas.auth.permissions import EDITORS
from betas.auth.web import current_actor, role_required
from betas.db import get_session
from betas.errors import DomainError
from cohorts import waves
from feedback import charts, exporting, log, patterns, sheet_links
from feedback.forms import BlockerForm, CodesForm, FilterForm, filter_args, log_form
from feedback.models import BlockerState
from usage.charts import SVG_POLICY

feedback = Blueprint("feedback", __name__)


@feedback.route("/betas/<key>/feedback/new", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("hub.beta", key=key, _anchor="feedback"))
def log_feedback(key):
    """Log what a customer said, from the beta's page; codify it at once if you like."""
    beta = lifecycle.get_beta(get_session(), key)
    form = log_form(web.settings().feedback_types)
    if form.validate_on_submit():
        done = web.commit(
            lambda s: log.log(
                s,
                current_actor(),
                beta,
                account=form.account.data or "",
                original=form.original.data or "",
                source=form.source.data,
                types=web.settings().feedback_types,
                **form.codes(),
            ),
            form=form,
            success=lambda item: f"Feedback item {item.id} from {item.account.external_id} logged.",
        )
        if done:
            return redirect(url_for("hub.beta", key=key, _anchor="feedback"))
    return web.render_beta_page(beta, 422, feedback_form=form)


@feedback.get("/betas/<key>/feedback")
def log_page(key):
    """List a beta's feedback, newest first, filtered, a page at a time (?after=CURSOR)."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    form = FilterForm(formdata=request.args)
    form.offer(web.settings().feedback_types, waves.list_cohorts(session, beta))
    listing, status = log.FeedbackPage([], None, {}), 400
    if form.validate():
        try:
            listing = log.feedback_page(session, beta, form.wanted(), request.args.get("after"))
            status = 200
        except DomainError as exc:
            web.show_refusal(form, exc)
    return render_template(
        "feedback/log.html",
        beta=beta,
        form=form,
        listing=listing,
        args=form.args(),
        first=not request.args.get("after"),
    ), status


def _patterns(key: str) -> patterns.Patterns:
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    return patterns.beta_patterns(session, beta, web.settings().feedback_types)


@feedback.get("/betas/<key>/feedback/patterns")
def patterns_page(key):
    """Show the patterns: types, top reasons, repeated questions, open blockers, by cohort kind."""
    found = _patterns(key)
    return render_template(
        "feedback/patterns.html",
        beta=found.beta,
        patterns=found,
        columns=patterns.COLUMNS,
        log_args=filter_args,
    )


@feedback.get("/betas/<key>/feedback/patterns.svg")
def patterns_chart(key):
    """Serve the chart of items by type, an SVG document the patterns page shows in an <img>."""
    return Response(
        charts.types_chart(_patterns(key)),
        mimetype="image/svg+xml",
        headers={"Content-Security-Policy": SVG_POLICY, "Cache-Control": "no-cache"},
    )


@feedback.get("/betas/<key>/feedback.csv")
def export_csv(key):
    """Download the beta's codified feedback as CSV."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    items = exporting.codified_items(session, beta)
    return Response(
        exporting.to_csv(items, web.settings().zone),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{beta.key}-feedback.csv"'},
    )


@feedback.get("/betas/<key>/feedback.xlsx")
def export_xlsx(key):
    """Download the beta's codified feedback as an XLSX workbook."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    items = exporting.codified_items(session, beta)
    return Response(
        exporting.to_xlsx(items, web.settings().zone),
        mimetype=exporting.XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{beta.key}-feedback.xlsx"'},
    )


def _item_page(item_id: int, status: int = 200, **failed_forms):
    record = log.read_item(get_session(), item_id)
    codes_form = CodesForm(formdata=None, obj=record.item)
    codes_form.duplicate_of.data = record.item.duplicate_of_id
    blocker_form = BlockerForm(formdata=None)
    resolved = record.item.blocker_state == BlockerState.RESOLVED
    blocker_form.blocker_state.data = BlockerState.OPEN if resolved else BlockerState.RESOLVED
    blocker_form.resolution.data = record.item.resolution
    forms = {"codes_form": codes_form, "blocker_form": blocker_form, **failed_forms}
    forms["codes_form"].offer_types(web.settings().feedback_types)
    session = get_session()
    page = render_template(
        "feedback/item.html",
        record=record,
        item=record.item,
        beta=record.item.beta,
        conflicts=sheet_links.item_conflicts(session, record.item),
        sheet_row=sheet_links.item_row(session, record.item),
        action=web.ActionForm(),
        **forms,
    )
    return page, status


@feedback.get("/feedback/<int:item_id>")
def item_page(item_id):
    """Show an item: the words, their context, its codes, and its history."""
    return _item_page(item_id)


def _change(item_id: int, form, values: dict, anchor: str, success: str):
    item = log.get_item(get_session(), item_id)
    web.editable_beta(item.beta.key)
    if form.validate_on_submit() and web.commit(
        lambda s: log.edit(s, current_actor(), item, values(), types=web.settings().feedback_types),
        form=form,
        success=success,
    ):
        return redirect(url_for("feedback.item_page", item_id=item_id, _anchor=anchor))
    return _item_page(item_id, 422, **{f"{anchor}_form": form})


@feedback.route("/feedback/<int:item_id>/codes", methods=["GET", "POST"])
@web.reload_goes_to(lambda item_id: url_for("feedback.item_page", item_id=item_id))
@role_required(*EDITORS)
def codify(item_id):
    """Codify or recodify an item: type, summary, reason, the item it repeats."""
    form = CodesForm()
    form.offer_types(web.settings().feedback_types)
    return _change(item_id, form, form.codes, "codes", f"Feedback item {item_id} saved.")


@feedback.route("/feedback/<int:item_id>/blocker", methods=["GET", "POST"])
@web.reload_goes_to(lambda item_id: url_for("feedback.item_page", item_id=item_id))
@role_required(*EDITORS)
def blocker(item_id):
    """Resolve a blocker with a note, or open it again."""
    form = BlockerForm()

    def values() -> dict:
        return {"blocker_state": form.blocker_state.data, "resolution": form.resolution.data}

    return _change(item_id, form, values, "blocker", f"Blocker {item_id} saved.")


def sheet_linked(session, beta, _today) -> list[dict[str, str]]:
    """Launch requirement: a linked sheet, when Google credentials are configured."""
    configured = bool(web.settings().google_credentials)
    return sheet_links.missing_sheet(session, beta, configured=configured)


def init_app(app: Flask) -> None:
    """Add the linked sheet to the launch requirements."""
    web.register_launch_requirement(app, sheet_linked)
