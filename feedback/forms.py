"""Forms for the feedback log: logging quickly, codifying, resolving, and the log's filters.

What a customer said is taken exactly as typed: no field of these forms trims it, and the
service checks it, so that a refused form shows every character again.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from betas.wording import plural
from feedback.log import FeedbackFilter
from feedback.models import CODE_MAX, ORIGINAL_MAX, BlockerState, Source

SOURCE_NAMES = {Source.IN_APP: "in the app"}


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
    account = StringField("Account id", validators=[Length(max=200)])
    cohort = SelectField("Cohort", default="")
    source = SelectField("Where", choices=source_choices("Anywhere"), default="")
    uncodified = BooleanField("Uncodified only")
    open_blockers = BooleanField("Open blockers only")

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
            account=(self.account.data or "").strip(),
            cohort=self.cohort.data or "",
            source=self.source.data or "",
            codified=False if self.uncodified.data else None,
            open_blockers=bool(self.open_blockers.data),
        )

    def args(self) -> dict[str, str]:
        """Return the filter as URL parameters, for the pager's links."""
        values = {
            "type": self.type.data,
            "reason": self.reason.data,
            "account": self.account.data,
            "cohort": self.cohort.data,
            "source": self.source.data,
            "uncodified": "y" if self.uncodified.data else "",
            "open_blockers": "y" if self.open_blockers.data else "",
        }
        return {name: value for name, value in values.items() if value}


def log_form(types: Sequence[str], **kwargs) -> LogForm:
    """Return the quick log form, offering the configured types.

    Its fields are prefixed ("feedback-reason"): the beta's page holds other forms' fields of the
    same names.
    """
    form = LogForm(prefix="feedback", **kwargs)
    form.offer_types(types)
    return form
