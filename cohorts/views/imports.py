"""The import pages: upload a file of accounts or conversations, map and check it, import it.

The page lists the latest imports, and offers example files of each kind to download.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from betas import web
from betas.auth.permissions import EDITORS
from betas.auth.web import current_actor, role_required
from betas.db import get_session, read_only
from cohorts import importing
from cohorts.forms import ImportFileForm, ImportMappingForm
from cohorts.views import cohorts

UPLOAD_MAX_BYTES = 512 * 1024 * 1024
PREVIEW_RECORDS = 10
RUNS_SHOWN = 20


@cohorts.url_value_preprocessor
def _allow_large_uploads(endpoint, _values):
    """Let PMs and admins upload files of up to 512 MB; every other request keeps its 1 MB.

    CSRFProtect reads the form in a before_request function, and Flask runs URL value
    preprocessors before any of those: the last moment to raise this request's limit.
    """
    if (
        endpoint == "cohorts.upload"
        and current_user.is_authenticated
        and current_user.role in EDITORS
    ):
        request.max_content_length = UPLOAD_MAX_BYTES


@cohorts.errorhandler(importing.UploadGone)
def _upload_gone(exc: importing.UploadGone):
    """Ask for the file again when its upload is not kept any more."""
    flash(exc.message, "error")
    return redirect(url_for("cohorts.upload"))


def _uploads() -> importing.Uploads:
    """Return the uploads kept in this app's instance folder."""
    return importing.Uploads.in_instance(current_app.instance_path)


def _to_upload_page():
    return url_for("cohorts.upload")


@cohorts.route("/imports", methods=["GET", "POST"])
@role_required(*EDITORS)
@read_only
def upload():
    """Upload a CSV or JSON Lines file of accounts or conversations; then map and check it."""
    form = ImportFileForm()
    if form.validate_on_submit():
        kind = importing.Kind(form.kind.data)
        upload_id = _uploads().save(form.file.data.stream)
        mapping = ImportMappingForm(
            formdata=None, upload=upload_id, kind=kind, file_name=form.file.data.filename
        )
        return _show_mapping(mapping, kind)
    return render_template(
        "cohorts/import.html", form=form, runs=importing.latest_runs(get_session(), RUNS_SHOWN)
    ), (422 if form.errors else 200)


def _mapping_form() -> tuple[ImportMappingForm, importing.Kind]:
    """Return the posted mapping form and its kind; 400 when it was tampered with."""
    form = ImportMappingForm()
    if form.kind.data not in set(importing.Kind):
        abort(400)
    kind = importing.Kind(form.kind.data)
    form.offer_fields(importing.FIELDS[kind])
    if not form.validate_on_submit():
        abort(400)
    return form, kind


def _show_mapping(
    form: ImportMappingForm,
    kind: importing.Kind,
    failure: importing.ImportFailed | None = None,
):
    """Render the upload's columns with their fields, every row checked, the first records shown."""
    with _uploads().open(form.upload.data) as stream:
        checked = importing.preview(get_session(), stream, kind, form.chosen(), PREVIEW_RECORDS)
    form.show_columns(checked.mapping, importing.FIELDS[kind])
    return render_template(
        "cohorts/import.html", mapping_form=form, kind=kind, preview=checked, failure=failure
    ), (422 if failure else 200)


@cohorts.route("/imports/preview", methods=["GET", "POST"])
@web.reload_goes_to(_to_upload_page)
@role_required(*EDITORS)
@read_only
def preview_import():
    """Check the upload again with the fields chosen for its columns."""
    return _show_mapping(*_mapping_form())


@cohorts.route("/imports/run", methods=["GET", "POST"])
@web.reload_goes_to(_to_upload_page)
@role_required(*EDITORS)
def run_import():
    """Import the upload as mapped, all or nothing: say what changed, or list what is wrong."""
    form, kind = _mapping_form()
    uploads = _uploads()
    origin = importing.Origin.page(current_actor(), form.file_name.data)

    def run(session):
        with uploads.open(form.upload.data) as stream:
            return importing.import_file(session, stream, kind, form.chosen(), origin=origin)

    # The file's problems are listed on the mapping page; any other refusal is flashed above it.
    done = web.commit(run, show=False)
    if isinstance(done.refusal, importing.ImportFailed):
        return _show_mapping(form, kind, done.refusal)
    if not done:
        flash(done.refusal.message, "error")
        return _show_mapping(form, kind)
    uploads.remove(form.upload.data)
    flash(f"Imported {kind.value}: {done.value}.", "success")
    return redirect(url_for("cohorts.upload"))
