"""Forms for people, betas and metrics."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    EmailField,
    FieldList,
    Form,
    FormField,
    IntegerField,
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
    NumberRange,
    Optional,
    ValidationError,
)

from betas.auth.tokens import SCOPES
from betas.auth.users import PASSWORD_MIN
from betas.checkpoints import QUESTIONS as OUTCOME_QUESTIONS
from betas.decisions import QUESTIONS, Waivable, Waiver
from betas.errors import Invalid
from betas.metric_rules import AT_LEAST_MAX, PART_MAX, check_rule
from betas.metrics import target_out_of_range
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


RULE_ROWS = 3  # the patterns the form offers; the API takes up to metric_rules.PATTERNS_MAX
PART_FIELDS = ("action", "object", "place")
WINDOW_CHOICES = [
    SelectChoice("7", "the last 7 days"),
    SelectChoice("14", "the last 14 days"),
    SelectChoice("28", "the last 28 days"),
    SelectChoice("", "since the account joined"),
]


def _part_field(label: str) -> StringField:
    return StringField(label, validators=[Optional(), Length(max=PART_MAX)])


class MetricForm(FlaskForm):
    """A success metric, its target, and its rule over events (up to RULE_ROWS patterns)."""

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
    action_0, object_0, place_0 = (_part_field(f"{part.capitalize()} 1") for part in PART_FIELDS)
    action_1, object_1, place_1 = (_part_field(f"{part.capitalize()} 2") for part in PART_FIELDS)
    action_2, object_2, place_2 = (_part_field(f"{part.capitalize()} 3") for part in PART_FIELDS)
    at_least = IntegerField(
        "At least",
        default=1,
        validators=[Optional(), NumberRange(1, AT_LEAST_MAX)],
        description="How many matching events (or days with one) make an account count.",
    )
    per = SelectField(
        "Counting",
        default="event",
        choices=[SelectChoice("event", "events"), SelectChoice("day", "days with an event")],
    )
    window_days = SelectField("Within", default="7", choices=WINDOW_CHOICES)

    def rule_rows(self) -> list[tuple]:
        """Return the (action, object, place) fields of each row the form offers."""
        return [tuple(self[f"{part}_{row}"] for part in PART_FIELDS) for row in range(RULE_ROWS)]

    def _filled_rows(self) -> list[int]:
        return [
            row
            for row, fields in enumerate(self.rule_rows())
            if any((f.data or "").strip() for f in fields)
        ]

    def metric(self) -> dict:
        """Return the metric the form describes, as the lifecycle takes it."""
        return {
            "name": self.name.data,
            "stage": self.stage.data,
            "counts": self.counts.data,
            "target": self.target.data,
            "unit": self.unit.data,
            "direction": self.direction.data,
            "rule": self.rule(),
        }

    def rule(self) -> dict | None:
        """Return the rule typed, as the lifecycle takes it; None when no event is given."""
        rows = self._filled_rows()
        if not rows:
            return None
        events = []
        for row in rows:
            action, object_, place = (self[f"{part}_{row}"].data or "" for part in PART_FIELDS)
            events.append(
                {"action": action, "object": object_, **({"place": place} if place.strip() else {})}
            )
        window = self.window_days.data
        return {
            "events": events,
            "at_least": self.at_least.data,
            "per": self.per.data,
            "window_days": int(window) if window else None,
        }

    def fill_rule(self, rule: dict | None) -> None:
        """Show a metric's rule in the form (the edit page)."""
        if not rule:
            return
        for row, pattern in enumerate(rule["events"][:RULE_ROWS]):
            for part in PART_FIELDS:
                self[f"{part}_{row}"].data = pattern.get(part, "")
        self.at_least.data = rule["at_least"]
        self.per.data = rule["per"]
        self.window_days.data = str(rule["window_days"] or "")

    def validate_target(self, field: DecimalField) -> None:
        """Say the range of the chosen unit, as the lifecycle does."""
        if field.data is None or self.unit.data not in {u.value for u in MetricUnit}:
            return  # not a number, or no unit: their own fields say so
        allowed = target_out_of_range(field.data, self.unit.data)
        if allowed:
            raise ValidationError(f"{allowed.capitalize()}.")

    def validate(self, extra_validators=None) -> bool:
        """Check the fields, then the rule as the lifecycle will, on the fields it names."""
        valid = super().validate(extra_validators)
        if not valid or not self._filled_rows():
            return valid
        if self.at_least.data is None:
            self.at_least.errors = [*self.at_least.errors, "Required with events."]
            return False
        try:
            check_rule(self.rule())
        except Invalid as exc:
            rows = self._filled_rows()
            for detail in exc.details:
                parts = detail["field"].split(".")  # rule.events.0.action, rule.at_least
                if parts[1] == "events" and len(parts) == 4:
                    field = self[f"{parts[3]}_{rows[int(parts[2])]}"]
                else:
                    field = self._fields.get(parts[-1], self.action_0)
                field.errors = [*field.errors, detail["message"]]
            return False
        return True


class ExtensionForm(FlaskForm):
    """A later decision deadline and the reason for it."""

    new_deadline = DateField("New deadline", validators=[DataRequired()])
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=TEXT_MAX)])


class MessageForm(FlaskForm):
    """The beta message, sent with every export of members and of those to ask."""

    message = TextAreaField(
        "Message",
        validators=[Length(max=TEXT_MAX)],
        description="Keep the four points: it is a beta; the problem; what we built and where "
        "to find it; we need your feedback. Empty it to draw it from the framing again.",
    )


class DecisionForm(FlaskForm):
    """The ship / no-ship call: the outcome, why, the guide's three answers, who took part.

    Left to the decision's rules to refuse (a blank rationale or answer, an unwaived blocker),
    so that every problem shows at once, beside its field. `decision_form` adds a reason field
    for each item a ship must waive.
    """

    outcome = RadioField(
        "The call",
        choices=[
            SelectChoice("ship", "Ship: turn it on for everyone"),
            SelectChoice("no_ship", "No-ship: turn it off"),
        ],
        validators=[InputRequired(message="Choose ship or no-ship.")],
    )
    rationale = TextAreaField("Rationale", validators=[Length(max=TEXT_MAX)])
    solved = TextAreaField(QUESTIONS["solved"], validators=[Length(max=TEXT_MAX)])
    replaces_existing = TextAreaField(
        QUESTIONS["replaces_existing"], validators=[Length(max=TEXT_MAX)]
    )
    marketing = TextAreaField(QUESTIONS["marketing"], validators=[Length(max=TEXT_MAX)])
    learned = TextAreaField(
        "What we learned, against the learning goals", validators=[Length(max=TEXT_MAX)]
    )
    approver = StringField(
        "Approver",
        validators=[Length(max=NAME_MAX)],
        description="Who approves the call; you, when left empty.",
    )
    contributors = StringField(
        "Contributors", validators=[Length(max=TEXT_MAX)], description="Names, comma-separated."
    )
    informed = StringField(
        "Informed", validators=[Length(max=TEXT_MAX)], description="Names, comma-separated."
    )
    waivable: list[Waivable] = []

    def waiver_fields(self) -> list:
        """Return the reason field of each item a ship must waive, in the review's order."""
        return [self[item.field] for item in self.waivable]

    def waivers(self) -> list[Waiver]:
        """Return the waivers given: each item with a reason typed."""
        return [
            Waiver(item.kind, item.id, self[item.field].data)
            for item in self.waivable
            if (self[item.field].data or "").strip()
        ]

    def values(self) -> dict:
        """Return what the decision's rules take from the form."""
        return {
            "outcome": self.outcome.data or "",
            "rationale": self.rationale.data or "",
            "answers": {name: self[name].data or "" for name in QUESTIONS},
            "learned": self.learned.data or "",
            "participants": {
                "approver": self.approver.data,
                "contributors": self.contributors.data,
                "informed": self.informed.data,
            },
            "waivers": self.waivers(),
        }


def decision_form(waivable: list[Waivable], **kwargs) -> DecisionForm:
    """Return the decision form with a waiver's reason field for each of `waivable`."""

    class Form(DecisionForm):
        pass

    for item in waivable:
        what = "blocker" if item.kind == "feedback" else "never-measured metric"
        setattr(
            Form,
            item.field,
            TextAreaField(
                f"Waive the {what} {item.label}",
                validators=[Optional(), Length(max=TEXT_MAX)],
                description="Only for a ship despite it: say why it may wait.",
            ),
        )
    form = Form(**kwargs)
    form.waivable = list(waivable)
    return form


class ReopenForm(FlaskForm):
    """Why a decided beta is reopened (admins)."""

    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=TEXT_MAX)])


class ActionRowForm(Form):
    """One action that follows an outcome report: what, who owns it, by when."""

    what = StringField("Action", validators=[Length(max=TEXT_MAX)])
    owner = StringField("Owner", validators=[Length(max=NAME_MAX)])
    due_on = DateField("Due", validators=[Optional()])


class CheckpointForm(FlaskForm):
    """A checkpoint's outcome report: the guide's two questions and the actions that follow."""

    solved = TextAreaField(OUTCOME_QUESTIONS["solved"], validators=[Length(max=TEXT_MAX)])
    outcomes = TextAreaField(OUTCOME_QUESTIONS["outcomes"], validators=[Length(max=TEXT_MAX)])
    actions = FieldList(FormField(ActionRowForm), min_entries=3, max_entries=20)

    def action_rows(self) -> list[dict]:
        """Return the action rows with anything typed in them (blank rows are left out)."""
        return [
            row.data
            for row in self.actions
            if any((row.data.get(name) or "") for name in ("what", "owner", "due_on"))
        ]


class ShipMessageForm(FlaskForm):
    """What the accounts that asked for it are told, now that it shipped."""

    message = TextAreaField("Message", validators=[DataRequired(), Length(max=TEXT_MAX)])


class ToldForm(FlaskForm):
    """The accounts that were told it shipped."""

    accounts = MultiCheckboxField("Told", choices=[], validate_choice=True)
