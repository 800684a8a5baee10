"""The feedback pages: the quick log on the beta's page, the log with filters, an item's page.

Anyone signed in reads and logs feedback; codifying and resolving are for the beta's owner and
admins. A form that fails renders its page again with everything typed.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from betas import lifecycle, web
from betas.auth.permissions import EDITORS
from betas.auth.web import current_actor, role_required
from betas.db import get_session, read_only, utcnow
from betas.errors import DomainError
from betas.wording import plural
from cohorts import waves
from cohorts.importing import ImportFailed, Origin, UploadGone, Uploads
from feedback import charts, exporting, importing, log, patterns, sheet_links
from feedback.forms import (
    BlockerForm,
    CodesForm,
    FilterForm,
    ImportFileForm,
    ImportMappingForm,
    log_form,
    log_linker,
)
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
        log_href=log_linker(found.beta.key),
        chart_size=(charts.WIDTH, charts.height(found)),
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


# Importing a sheet kept by hand: upload, map and preview, import.

IMPORT_MAX_BYTES = 32 * 1024 * 1024
PREVIEW_ROWS = 10


@feedback.url_value_preprocessor
def _allow_sheet_uploads(endpoint, _values):
    """Let PMs and admins upload sheets of up to 32 MB; every other request keeps its 1 MB.

    CSRFProtect reads the form before any view runs: this is the last moment to raise the limit.
    """
    if (
        endpoint == "feedback.import_upload"
        and current_user.is_authenticated
        and current_user.role in EDITORS
    ):
        request.max_content_length = IMPORT_MAX_BYTES


def _uploads() -> Uploads:
    return Uploads.in_instance(current_app.instance_path)


def _checks() -> dict:
    """Return what an import checks rows against: the types, the zone of dates, and now."""
    settings = web.settings()
    return {"types": settings.feedback_types, "zone": settings.zone, "now": utcnow()}


def _import_page(key: str) -> str:
    return url_for("feedback.import_upload", key=key)


def _show_mapping(beta, form: ImportMappingForm, failure: ImportFailed | None = None):
    """Render the sheet's columns with their fields, every row checked, the first rows shown."""
    try:
        with _uploads().open(form.upload.data) as stream:
            checked = importing.preview(
                get_session(), beta, stream, form.chosen(), limit=PREVIEW_ROWS, **_checks()
            )
    except UploadGone as exc:
        flash(exc.message, "error")
        return redirect(_import_page(beta.key))
    form.show_columns(checked.mapping, importing.FIELDS.labels)
    return render_template(
        "feedback/import.html", beta=beta, mapping_form=form, preview=checked, failure=failure
    ), (422 if failure else 200)


@feedback.route("/betas/<key>/feedback/import", methods=["GET", "POST"])
@role_required(*EDITORS)
@read_only
def import_upload(key):
    """Upload a feedback sheet kept by hand (CSV or XLSX); then map and check it."""
    beta = web.editable_beta(key)
    try:
        log.check_open_to_feedback(beta)
    except DomainError as exc:
        return render_template("feedback/import.html", beta=beta, closed=exc.message), 409
    form = ImportFileForm()
    if form.validate_on_submit():
        upload_id = _uploads().save(form.file.data.stream)
        mapping = ImportMappingForm(
            formdata=None, upload=upload_id, file_name=form.file.data.filename
        )
        return _show_mapping(beta, mapping)
    settings = web.settings()
    page = render_template(
        "feedback/import.html",
        beta=beta,
        form=form,
        settings_types=settings.feedback_types,
        zone_name=settings.zone.key,
    )
    return page, (422 if form.errors else 200)


def _mapping_form() -> ImportMappingForm:
    """Return the posted mapping form; 400 when it was tampered with."""
    form = ImportMappingForm()
    form.offer_fields(importing.FIELDS.labels)
    if not form.validate_on_submit():
        abort(400)
    return form


@feedback.route("/betas/<key>/feedback/import/preview", methods=["GET", "POST"])
@web.reload_goes_to(_import_page)
@role_required(*EDITORS)
@read_only
def import_preview(key):
    """Check the sheet again with the fields chosen for its columns."""
    beta = web.editable_beta(key)
    return _show_mapping(beta, _mapping_form())


@feedback.route("/betas/<key>/feedback/import/run", methods=["GET", "POST"])
@web.reload_goes_to(_import_page)
@role_required(*EDITORS)
def import_run(key):
    """Log every row of the sheet as mapped, all or nothing; or list what is wrong."""
    beta = web.editable_beta(key)
    form = _mapping_form()
    uploads = _uploads()
    actor = current_actor()
    origin = Origin.page(actor, form.file_name.data)

    def run(session):
        with uploads.open(form.upload.data) as stream:
            return importing.import_feedback(
                session, actor, beta, stream, form.chosen(), origin=origin, **_checks()
            )

    # The sheet's problems are listed on the mapping page; any other refusal is flashed above it.
    done = web.commit(run, show=False)
    if isinstance(done.refusal, ImportFailed):
        return _show_mapping(beta, form, done.refusal)
    if not done:
        flash(done.refusal.message, "error")
        if isinstance(done.refusal, UploadGone):
            return redirect(_import_page(key))
        return _show_mapping(beta, form)
    uploads.remove(form.upload.data)
    flash(f"Imported {plural(done.value.created, 'feedback item')}.", "success")
    return redirect(url_for("feedback.log_page", key=key, _anchor="feedback"))


def sheet_linked(session, beta, _today) -> list[dict[str, str]]:
    """Launch requirement: a linked sheet, when Google credentials are configured."""
    configured = bool(web.settings().google_credentials)
    return sheet_links.missing_sheet(session, beta, configured=configured)


def init_app(app: Flask) -> None:
    """Add the linked sheet to the launch requirements."""
    web.register_launch_requirement(app, sheet_linked)
