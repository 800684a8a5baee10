"""Forms for the feedback log (logging, codifying, resolving, the filters), calls, asks, the sheet.

What a customer said is taken exactly as typed: no field of these forms trims it, and the
service checks it, so that a refused form shows every character again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, Length, NumberRange, Optional

from betas.models import TEXT_MAX
from betas.web import ColumnsForm
from betas.wording import plural
from cohorts.models import CohortKind
from feedback.log import NOT_A_MEMBER, FeedbackFilter
from feedback.models import (
    CHANNEL_MAX,
    CODE_MAX,
    GUESTS_MAX,
    ORIGINAL_MAX,
    BlockerState,
    Source,
)
from feedback.sheet_links import SIDES

SOURCE_NAMES = {Source.IN_APP: "in the app"}
COHORT_KIND_CHOICES = [
    SelectChoice("", "Any kind"),
    SelectChoice(CohortKind.EARLY_ADOPTERS.value, "early adopters"),
    SelectChoice(CohortKind.RANDOM_SAMPLE.value, "random sample"),
    SelectChoice(CohortKind.MANUAL.value, "added by hand"),
    SelectChoice(NOT_A_MEMBER, "not a member"),
]


def type_choices(types: Sequence[str], empty: str) -> list[SelectChoice]:
    """Return the feedback types to choose from, after an empty choice labelled `empty`."""
    return [SelectChoice("", empty)] + [SelectChoice(t, t.replace("_", " ")) for t in types]


def source_choices(empty: str | None = None) -> list[SelectChoice]:
    """Return the sources to choose from, with an empty choice first when `empty` names it."""
    listed = [SelectChoice(s.value, SOURCE_NAMES.get(s, s.value)) for s in Source]
    return ([SelectChoice("", empty)] if empty else []) + listed


class CodesForm(FlaskForm):
    """How feedback is codified: type, summary, reason, and the earlier item it repeats."""

    type = SelectField("Type", default="")
    summary = StringField("Summary", validators=[Length(max=CODE_MAX)])
    reason = StringField(
        "Reason",
        validators=[Length(max=CODE_MAX)],
        description="The issue, cause or problem actually being expressed.",
    )
    duplicate_of = IntegerField(
        "Repeats item",
        validators=[Optional()],
        description="The number of an earlier item of this beta that says the same.",
    )

    def offer_types(self, types: Sequence[str]) -> None:
        """Offer the configured feedback types."""
        self.type.choices = type_choices(types, "Not codified yet")

    def codes(self) -> dict:
        """Return the codes as the service takes them."""
        return {
            "type": self.type.data or None,
            "summary": self.summary.data,
            "reason": self.reason.data,
            "duplicate_of": self.duplicate_of.data,
        }


class LogForm(CodesForm):
    """Log what a customer said, word for word; codify it now or later."""

    account = StringField(
        "Account", validators=[Length(max=200)], description="Its id or its name."
    )
    # No maxlength: a browser would cut a longer paste silently; the service says it is too long.
    original = TextAreaField(
        "What they said",
        description=f"Paste it word for word (at most {plural(ORIGINAL_MAX, 'character')}).",
    )
    source = SelectField("Where", choices=source_choices(), default=Source.CALL.value)


class BlockerForm(FlaskForm):
    """Resolve a blocker with a note, or open it again."""

    blocker_state = RadioField(
        "State",
        choices=[
            SelectChoice(BlockerState.OPEN.value, "open"),
            SelectChoice(BlockerState.RESOLVED.value, "resolved"),
        ],
        default=BlockerState.RESOLVED.value,
    )
    resolution = TextAreaField(
        "Resolution", validators=[Length(max=CODE_MAX)], description="How it was resolved."
    )


class FilterForm(FlaskForm):
    """Which items of the log to show; sent with GET (to link and bookmark), so without CSRF."""

    class Meta:
        """A filter changes nothing: no CSRF token."""

        csrf = False

    type = SelectField("Type", default="")
    reason = StringField("Reason holds", validators=[Length(max=200)])
    reason_is = StringField(
        "Reason is",
        validators=[Length(max=CODE_MAX)],
        description="Whatever its case, spacing and punctuation.",
    )
    account = StringField("Account id", validators=[Length(max=200)])
    cohort = SelectField("Cohort", default="")
    cohort_kind = SelectField("Cohort kind", choices=COHORT_KIND_CHOICES, default="")
    source = SelectField("Where", choices=source_choices("Anywhere"), default="")
    uncodified = BooleanField("Uncodified only")
    open_blockers = BooleanField("Open blockers only")
    questions = BooleanField("Questions only", description="Question and comprehension items.")

    def offer(self, types: Sequence[str], cohorts) -> None:
        """Offer the configured types and the beta's cohorts."""
        self.type.choices = type_choices(types, "Any type")
        self.cohort.choices = [SelectChoice("", "Any cohort")] + [
            SelectChoice(c.slug, c.name) for c in cohorts
        ]

    def wanted(self) -> FeedbackFilter:
        """Return the items the form describes."""
        return FeedbackFilter(
            type=self.type.data or "",
            reason=(self.reason.data or "").strip(),
            reason_is=(self.reason_is.data or "").strip(),
            account=(self.account.data or "").strip(),
            cohort=self.cohort.data or "",
            cohort_kind=self.cohort_kind.data or "",
            source=self.source.data or "",
            codified=False if self.uncodified.data else None,
            open_blockers=bool(self.open_blockers.data),
            questions=bool(self.questions.data),
        )

    def args(self) -> dict[str, str]:
        """Return the filter as URL parameters, for the pager's links."""
        return filter_args(self.wanted())


def filter_args(wanted: FeedbackFilter) -> dict[str, str]:
    """Return the URL parameters of the log that lists exactly the items `wanted` selects."""
    values = {
        "type": wanted.type,
        "reason": wanted.reason,
        "reason_is": wanted.reason_is,
        "account": wanted.account,
        "cohort": wanted.cohort,
        "cohort_kind": wanted.cohort_kind,
        "source": wanted.source,
        "uncodified": "y" if wanted.codified is False else "",
        "open_blockers": "y" if wanted.open_blockers else "",
        "questions": "y" if wanted.questions else "",
    }
    return {name: value for name, value in values.items() if value}


def log_linker(key: str) -> Callable[[FeedbackFilter], str]:
    """Return what gives the URL of the beta's log listing a filter's items (patterns link each).

    Hundreds of numbers link to the log: its URL is built once, not once a number.
    """
    log_url = url_for("feedback.log_page", key=key)
    return lambda wanted: f"{log_url}?{urlencode(filter_args(wanted))}"


def log_form(types: Sequence[str], **kwargs) -> LogForm:
    """Return the quick log form, offering the configured types.

    Its fields are prefixed ("feedback-reason"): the beta's page holds other forms' fields of the
    same names.
    """
    form = LogForm(prefix="feedback", **kwargs)
    form.offer_types(types)
    return form


# Calls


class CallForm(FlaskForm):
    """Plan a call with an account of the beta: when, who attends, what to ask."""

    account = StringField(
        "Account", validators=[Length(max=200)], description="Its id or its name."
    )
    held_at = DateTimeLocalField(
        "When", format="%Y-%m-%dT%H:%M", description="In the time zone Shipcall shows."
    )
    attendees = SelectMultipleField(
        "Teammates attending",
        coerce=int,
        description="Invite an engineer and a designer (hold Ctrl or ⌘ to choose several).",
    )
    guests = StringField(
        "Others attending",
        validators=[Length(max=GUESTS_MAX)],
        description="Names without a Shipcall account: the customer's people, a contractor.",
    )
    questions = TextAreaField(
        "Questions to ask",
        validators=[Length(max=TEXT_MAX)],
        description="Jot down the qualitative questions after reviewing what they have done.",
    )

    def offer(self, teammates) -> None:
        """Offer the active users as attendees."""
        self.attendees.choices = [SelectChoice(u.id, u.display_name) for u in teammates]

    def values(self, zone: ZoneInfo) -> dict:
        """Return the call's fields as the service takes them (the time in `zone`)."""
        held_at = self.held_at.data
        return {
            "held_at": held_at.replace(tzinfo=zone) if held_at else None,
            "attendees": self.attendees.data or [],
            "guests": self.guests.data or "",
            "questions": self.questions.data or "",
        }


class ChangeCallForm(CallForm):
    """Change a call: its time, attendees, questions, and the notes taken on it."""

    account = None
    notes = TextAreaField("Notes", validators=[Length(max=TEXT_MAX)])

    def values(self, zone: ZoneInfo) -> dict:
        """Return the changes as the service takes them."""
        return {**super().values(zone), "notes": self.notes.data or ""}


class CallItemForm(CodesForm):
    """Log one thing said on a call, word for word; codify it now or later."""

    duplicate_of = None
    original = TextAreaField(
        "What they said",
        description=f"Word for word (at most {plural(ORIGINAL_MAX, 'character')}).",
    )


def call_item_form(types: Sequence[str], **kwargs) -> CallItemForm:
    """Return the form of an item said on a call, its fields prefixed ("item-original")."""
    form = CallItemForm(prefix="item", **kwargs)
    form.offer_types(types)
    return form


# Asking for feedback


def _optional_int(value) -> int | None:
    """Read a choice that may be empty: "" (any beta event) is None."""
    return int(value) if value not in (None, "", "None") else None


class WhoToAskForm(FlaskForm):
    """Which members to ask: a metric (or any beta event) met in the last N days; sent by GET."""

    class Meta:
        """Choosing who to list changes nothing: no CSRF token."""

        csrf = False

    metric = SelectField("Used", coerce=_optional_int, default=None)
    days = IntegerField(
        "In the last",
        default=14,
        # No InputRequired: opened without a choice, the page lists with the defaults.
        validators=[NumberRange(1, 365)],
        description="Days (1 to 365).",
    )

    def offer(self, metrics) -> None:
        """Offer the beta's metrics that have a rule, after "any beta event"."""
        self.metric.choices = [SelectChoice(None, "Any beta event")] + [
            SelectChoice(m.id, m.name) for m in metrics if m.rule
        ]


class ExportAsksForm(FlaskForm):
    """Export who to ask, recording an ask for each by this channel."""

    metric = HiddenField()
    days = HiddenField()
    channel = StringField(
        "Channel",
        default="email",
        validators=[Length(max=CHANNEL_MAX)],
        description="How you will send it: email, Intercom, in the app...",
    )


class AskForm(FlaskForm):
    """Record by hand that accounts were asked for feedback."""

    accounts = TextAreaField(
        "Accounts", description="Their ids, one a line or separated by commas."
    )
    channel = StringField("Channel", validators=[Length(max=CHANNEL_MAX)])

    def account_ids(self) -> list[str]:
        """Return the account ids typed."""
        text = (self.accounts.data or "").replace(",", "\n")
        return [line.strip() for line in text.splitlines() if line.strip()]


# The spreadsheet


class SheetLinkForm(FlaskForm):
    """Link the beta's feedback spreadsheet, by its link or its key."""

    spreadsheet = StringField(
        "Spreadsheet",
        validators=[Length(max=2000)],
        description="Its link (https://docs.google.com/spreadsheets/d/…) or its key.",
    )


class SettleForm(FlaskForm):
    """Settle a conflict: keep Shipcall's value or the sheet's."""

    side = HiddenField(validators=[AnyOf(SIDES, message="Keep Shipcall's value or the sheet's.")])


# Importing a sheet kept by hand


IMPORT_EXTENSIONS = ["csv", "tsv", "txt", "xlsx"]


class ImportFileForm(FlaskForm):
    """A feedback sheet kept by hand, to upload, map and preview before importing it."""

    file = FileField(
        "File",
        validators=[
            FileRequired("Choose a file."),
            FileAllowed(
                IMPORT_EXTENSIONS, "Upload a CSV file (.csv, .tsv, .txt) or an XLSX workbook."
            ),
        ],
        description="CSV in UTF-8 (comma, semicolon or tab between cells), or XLSX: its first "
        "sheet. Up to 32 MB.",
    )


class ImportMappingForm(ColumnsForm):
    """The uploaded sheet, its name, and the field chosen for each of its columns."""
