"""Forms for people, betas and metrics."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    EmailField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from betas.auth.tokens import SCOPES
from betas.auth.users import PASSWORD_MIN
from betas.lifecycle import target_out_of_range
from betas.models import (
    NAME_MAX,
    TARGET_MAX,
    TEXT_MAX,
    BusinessOutcome,
    Direction,
    MetricStage,
    MetricUnit,
    Risk,
    Role,
)
from betas.web import slug_field

RISK_CHOICES = [
    SelectChoice(Risk.LOW.value, "Low: opt accounts in and notify them"),
    SelectChoice(
        Risk.HIGH.value,
        "High: invite accounts and wait for them to accept (when it may break a primary workflow)",
    ),
]
ROLE_CHOICES = [
    SelectChoice(Role.VIEWER.value, "Viewer: reads everything"),
    SelectChoice(Role.PM.value, "PM: frames betas and edits their own"),
    SelectChoice(Role.ADMIN.value, "Admin: edits any beta, manages users and tokens"),
]


def _choices(enum_cls) -> list[SelectChoice]:
    return [SelectChoice(m.value, m.value.replace("_", " ").capitalize()) for m in enum_cls]


def user_choices(users) -> list[SelectChoice]:
    """Offer users by id, labelled with their name and role."""
    return [SelectChoice(u.id, f"{u.display_name} <{u.email}> ({u.role.value})") for u in users]


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes, one per choice."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class SignInForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])


class UserForm(FlaskForm):
    """A new user: the first admin at setup, or anyone an admin adds."""

    name = StringField("Name", validators=[Optional(), Length(max=NAME_MAX)])
    email = EmailField(
        "Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)]
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(min=PASSWORD_MIN, max=200)],
        description=f"At least {PASSWORD_MIN} characters.",
    )
    confirm = PasswordField(
        "Password again",
        validators=[DataRequired(), EqualTo("password", message="The passwords differ.")],
    )
    role = RadioField("Role", choices=ROLE_CHOICES, default=Role.PM.value)


class RoleForm(FlaskForm):
    """A user's new role."""

    role = SelectField("Role", choices=[SelectChoice(r.value) for r in Role])


class TokenForm(FlaskForm):
    """A new API token: its name, who it acts as, and what it may do."""

    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    user = SelectField("Acts as", coerce=int, description="The token has this user's role.")
    scopes = MultiCheckboxField(
        "Scopes",
        choices=[SelectChoice(s) for s in SCOPES],
        validators=[DataRequired(message="Choose at least one scope.")],
    )


class BetaForm(FlaskForm):
    """The framing of a beta."""

    key = slug_field(
        "Key",
        "How the product names this beta, e.g. inbox-reports. Fixed once launched.",
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    problem = TextAreaField(
        "Problem",
        validators=[Length(max=TEXT_MAX)],
        description="What problem are we solving, and for whom?",
    )
    learning_goals = TextAreaField(
        "Learning goals",
        validators=[Length(max=TEXT_MAX)],
        description="What do we want to learn as early as possible?",
    )
    customer_outcome = TextAreaField(
        "Customer outcome",
        validators=[Length(max=TEXT_MAX)],
        description="How will customers behave differently when this works?",
    )
    business_outcomes = MultiCheckboxField(
        "Business outcomes", choices=_choices(BusinessOutcome), validators=[Optional()]
    )
    risk = RadioField("Risk", choices=RISK_CHOICES, default=Risk.LOW.value)
    owner = SelectField("Owner", coerce=int)
    decision_deadline = DateField(
        "Decision deadline",
        validators=[Optional()],
        description="The day the ship / no-ship call is made: today or later. Required to launch.",
    )


class DeleteBetaForm(FlaskForm):
    """Deleting a draft, confirmed by typing its key."""

    confirm_key = StringField("Key", validators=[DataRequired(message="Type the key to confirm.")])

    def __init__(self, key: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key = key
        self.confirm_key.label.text = f"Type the key {key} to confirm"

    def validate_confirm_key(self, field: StringField) -> None:
        """Ask for the beta's key exactly, so that no other draft goes by mistake."""
        if field.data.strip() != self.key:
            raise ValidationError(f"This is not the key: type {self.key}.")


class MetricForm(FlaskForm):
    """A success metric and its target."""

    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    stage = SelectField("Stage", choices=_choices(MetricStage))
    counts = TextAreaField(
        "What counts",
        validators=[Length(max=TEXT_MAX)],
        description="In plain words, e.g. 'opened the new report twice in a week'.",
    )
    target = DecimalField(
        "Target",
        places=2,
        validators=[InputRequired()],
        description=f"0 to 100 for a percentage, 0 to {TARGET_MAX:,} for a count.",
    )
    unit = SelectField(
        "Unit",
        choices=[
            SelectChoice(MetricUnit.PERCENT.value, "% of enrolled accounts"),
            SelectChoice(MetricUnit.COUNT.value, "count"),
        ],
    )
    direction = SelectField(
        "Direction",
        choices=[
            SelectChoice(Direction.AT_LEAST.value, "at least"),
            SelectChoice(Direction.AT_MOST.value, "at most"),
        ],
    )

    def validate_target(self, field: DecimalField) -> None:
        """Say the range of the chosen unit, as the lifecycle does."""
        if field.data is None or self.unit.data not in {u.value for u in MetricUnit}:
            return  # not a number, or no unit: their own fields say so
        allowed = target_out_of_range(field.data, self.unit.data)
        if allowed:
            raise ValidationError(f"{allowed.capitalize()}.")


class ExtensionForm(FlaskForm):
    """A later decision deadline and the reason for it."""

    new_deadline = DateField("New deadline", validators=[DataRequired()])
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=TEXT_MAX)])
