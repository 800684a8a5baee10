"""Forms for cohorts: imports, the finder, cohorts and memberships."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from betas.models import KEY_MAX, KEY_PATTERN, NAME_MAX, TEXT_MAX
from cohorts.models import CohortKind

KIND_CHOICES = [
    SelectChoice(CohortKind.EARLY_ADOPTERS.value, "Early adopters: they asked, or hit the problem"),
    SelectChoice(CohortKind.RANDOM_SAMPLE.value, "Random sample: accounts that never asked"),
    SelectChoice(CohortKind.MANUAL.value, "Manual: chosen by hand"),
]


class CohortForm(FlaskForm):
    """A new wave of a beta."""

    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    slug = StringField(
        "Slug",
        validators=[
            DataRequired(),
            Length(max=KEY_MAX),
            Regexp(KEY_PATTERN, message="Use lower-case letters, digits and hyphens."),
        ],
        description="Short and stable, e.g. wave-1. Tags in the messaging tool can use it.",
    )
    kind = SelectField("Kind", choices=KIND_CHOICES)
    planned_size = IntegerField(
        "Planned size", validators=[Optional(), NumberRange(min=1, max=1_000_000)]
    )


class AddMembersForm(FlaskForm):
    """Accounts to put in a cohort by hand, with the reason they are there."""

    accounts = TextAreaField(
        "Account ids",
        validators=[DataRequired(), Length(max=200_000)],
        description="One external account id per line (or separated by commas).",
    )
    reason = StringField(
        "Reason",
        validators=[DataRequired(), Length(max=TEXT_MAX)],
        description="Why these accounts are in the beta, e.g. 'asked on the Q3 customer call'.",
    )
    override_opt_out = BooleanField("Add back accounts that opted out of this beta")


class MoveForm(FlaskForm):
    """Another cohort of the same beta for one member."""

    cohort = SelectField("Move to")
    reason = StringField("Reason", validators=[Optional(), Length(max=TEXT_MAX)])
