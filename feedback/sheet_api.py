"""The spreadsheet API: link a beta to its feedback sheet, and read how its sync stands."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from betas import lifecycle
from betas.apidoc import NO_BETA, NOT_EDITOR, Refusal, refuses
from betas.apikit import PREFIX, commit, require_scope
from betas.auth.permissions import require_edit
from betas.auth.web import current_actor
from betas.db import end_reads, get_session
from betas.errors import Conflict, Invalid, NotFound
from betas.web import settings
from feedback import sheet_links
from feedback.sheets import Sheets, SheetsError

blp = Blueprint(
    "sheet_api", __name__, url_prefix=PREFIX, description="The spreadsheet mirroring a beta."
)

NOT_CONFIGURED = Refusal.of(
    Conflict, "No Google credentials are configured (SHIPCALL_GOOGLE_CREDENTIALS)."
)
NO_ACCESS = Refusal.of(
    Invalid,
    "The text names no spreadsheet, or the service account cannot find, read or edit it; the "
    "message says which and what to do.",
)
NO_SHEET = Refusal.of(NotFound, "No beta has this key, or the beta has no linked spreadsheet.")


class LinkSchema(Schema):
    """The spreadsheet to link: its link or its key."""

    spreadsheet = fields.Str(
        required=True,
        validate=validate.Length(1, 2000),
        metadata={"description": "https://docs.google.com/spreadsheets/d/KEY/… or KEY."},
    )


class LinkedSchema(Schema):
    """The spreadsheet linked, and whom to share it with."""

    spreadsheet_id = fields.Str()
    worksheet = fields.Str()
    service_account = fields.Str(metadata={"description": "Share the sheet with it, as editor."})


class SheetStateSchema(Schema):
    """How the beta's sheet sync stands."""

    spreadsheet_id = fields.Function(lambda s: s.link.spreadsheet_id)
    worksheet = fields.Function(lambda s: s.link.worksheet)
    pending = fields.Int(metadata={"description": "Changes not yet written to the sheet."})
    last_success_at = fields.Function(
        lambda s: s.link.last_success_at.isoformat() if s.link.last_success_at else None,
        allow_none=True,
    )
    last_error = fields.Function(lambda s: s.link.last_error, allow_none=True)
    next_try_at = fields.Function(
        lambda s: s.link.next_try_at.isoformat() if s.link.next_try_at else None, allow_none=True
    )
    conflicts = fields.Function(lambda s: len(s.conflicts))
    deleted_rows = fields.Function(lambda s: [row.feedback_item_id for row in s.missing])
    unmatched_rows = fields.Function(lambda s: s.link.unmatched)


@blp.route("/betas/<key>/sheet")
class BetaSheet(MethodView):
    """A beta's feedback spreadsheet."""

    @require_scope("betas:read")
    @refuses(NO_SHEET)
    @blp.response(200, SheetStateSchema)
    def get(self, key):
        """Read how the sheet's sync stands: pending changes, last success, last error."""
        session = get_session()
        beta = lifecycle.get_beta(session, key)
        sheet_links.require_link(session, beta)
        return sheet_links.sheet_state(session, beta)

    @require_scope("betas:write")
    @refuses(NO_BETA, NOT_EDITOR, NOT_CONFIGURED, NO_ACCESS)
    @blp.arguments(LinkSchema)
    @blp.response(200, LinkedSchema)
    def put(self, data, key):
        """Link the beta to a spreadsheet after checking access; write its header row."""
        session = get_session()
        beta = lifecycle.get_beta(session, key)
        require_edit(current_actor().user, beta)  # before any request to Google
        try:
            sheets = Sheets.from_settings(settings())
        except SheetsError as exc:
            raise Conflict(exc.message) from None
        end_reads(session)
        checked = sheet_links.check_sheet(data["spreadsheet"], sheets)
        link = commit(lambda s: sheet_links.link_sheet(s, current_actor(), beta, checked))
        return {
            "spreadsheet_id": link.spreadsheet_id,
            "worksheet": link.worksheet,
            "service_account": sheets.email,
        }
