"""Forms for cohorts: imports, the finder, cohorts and memberships."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from betas.models import NAME_MAX, TEXT_MAX
from betas.web import ColumnsForm, slug_field
from betas.wording import plural
from cohorts.attributes import ATTRIBUTE_PATTERN, fold_name
from cohorts.finder import MAX_LIMIT, Criteria
from cohorts.importing import Kind
from cohorts.models import CohortKind
from cohorts.roster import AccountFilter
from cohorts.sample_specs import MAX_SIZE, SEED_PATTERN, NextDraw, SampleSpec

KIND_CHOICES = [
    SelectChoice(CohortKind.EARLY_ADOPTERS.value, "Early adopters: they asked, or hit the problem"),
    SelectChoice(CohortKind.RANDOM_SAMPLE.value, "Random sample: accounts that never asked"),
    SelectChoice(CohortKind.MANUAL.value, "Manual: chosen by hand"),
]


class CohortForm(FlaskForm):
    """A new wave of a beta."""

    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_MAX)])
    slug = slug_field(
        "Slug",
        "Short and stable, e.g. wave-1. Tags in the messaging tool can use it.",
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


class OptOutForm(FlaskForm):
    """The confirmation that an account opts out of a beta, with the customer's reason if given."""

    reason = TextAreaField(
        "Reason (optional)",
        validators=[Optional(), Length(max=TEXT_MAX)],
        description="What the customer said, e.g. 'too busy this quarter'. "
        "It is kept on the membership and shown on the account's page.",
    )


class AccountFilterForm(FlaskForm):
    """Which accounts to list; sent with GET (to link and bookmark), so without CSRF."""

    class Meta:
        """A filter changes nothing: no CSRF token."""

        csrf = False

    q = StringField("Account id or name", validators=[Length(max=200)])
    attribute = StringField(
        "Attribute",
        validators=[Length(max=1_000)],
        description="attribute = value, value (plan = pro, team); "
        "names match whatever their case and spacing.",
    )
    beta = SelectField(
        "In beta", default="", description="Members of this beta, whatever their status."
    )

    def offer_betas(self, betas) -> None:
        """Offer the betas to filter by, by name, and any beta."""
        ordered = sorted(betas, key=lambda b: (b.name.casefold(), b.key))
        self.beta.choices = [SelectChoice("", "Any beta")] + [
            SelectChoice(b.key, b.name) for b in ordered
        ]

    def validate_attribute(self, field) -> None:
        """Require attribute = value, value."""
        try:
            parse_filters(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc).replace("Line 1: ", "")) from exc

    def wanted(self) -> AccountFilter:
        """Return the accounts the form describes."""
        return AccountFilter(
            q=(self.q.data or "").strip(),
            attributes=parse_filters(self.attribute.data),
            beta_key=self.beta.data or None,
        )

    def args(self) -> dict[str, str]:
        """Return the filter as URL parameters, for the pager's links."""
        values = {"q": self.q.data, "attribute": self.attribute.data, "beta": self.beta.data}
        return {name: value for name, value in values.items() if value}


# Imports

IMPORT_EXTENSIONS = ["csv", "tsv", "txt", "jsonl", "ndjson"]


class ImportFileForm(FlaskForm):
    """A file of accounts or conversations to upload, map and preview before importing it."""

    kind = RadioField(
        "The file holds",
        choices=[
            SelectChoice(Kind.ACCOUNTS.value, "Accounts: one row (or JSON line) per account"),
            SelectChoice(
                Kind.CONVERSATIONS.value,
                "Conversations: one row per message, or one conversation per JSON line",
            ),
        ],
        default=Kind.ACCOUNTS.value,
    )
    file = FileField(
        "File",
        validators=[
            FileRequired("Choose a file."),
            FileAllowed(
                IMPORT_EXTENSIONS,
                "Upload a CSV file (.csv, .tsv, .txt) or a JSON Lines file (.jsonl, .ndjson).",
            ),
        ],
        description="UTF-8, up to 512 MB; comma, semicolon or tab between cells.",
    )


class ImportMappingForm(ColumnsForm):
    """The uploaded file, its kind and its name, and the field chosen for each column."""

    kind = HiddenField(validators=[AnyOf([k.value for k in Kind])])


# Finder


class FinderSearchForm(FlaskForm):
    """A search of what customers wrote; sent with GET (to link and bookmark), so without CSRF."""

    class Meta:
        """A search changes nothing: no CSRF token."""

        csrf = False

    query = StringField(
        "Search what customers wrote",
        description='Words, "quoted phrases", OR between two words, -word to leave out. '
        "export also finds exports and exporting; case and accents do not matter.",
    )
    since = DateField("Written from", validators=[Optional()])
    until = DateField("Written until", validators=[Optional()])
    tags = StringField(
        "Conversation tags",
        validators=[Length(max=2_000)],
        description="Any of these tags, separated by commas.",
    )
    limit = SelectField(
        "Show",
        coerce=int,
        choices=[SelectChoice(n, f"top {n}") for n in (20, 50, 100, 200)],
        default=20,
    )

    def criteria(self) -> Criteria:
        """Return the search the form describes."""
        tags = tuple(t.strip() for t in (self.tags.data or "").split(",") if t.strip())
        return Criteria(self.query.data or "", self.since.data, self.until.data, tags)

    def args(self) -> dict[str, str]:
        """Return the search as URL parameters, to show it again."""
        values = {
            "query": self.query.data or "",
            "since": self.since.data.isoformat() if self.since.data else "",
            "until": self.until.data.isoformat() if self.until.data else "",
            "tags": self.tags.data or "",
            "limit": str(self.limit.data or ""),
        }
        return {name: value for name, value in values.items() if value}


class EnrollAdoptersForm(FlaskForm):
    """Accounts a search found (ticked, or the top N) and the early-adopter cohort they join."""

    # Ticked in the results table; the finder checks each against the search again.
    accounts = SelectMultipleField("Accounts", validate_choice=False)
    cohort = SelectField("Early-adopter cohort")
    new_cohort = StringField(
        "New cohort name",
        validators=[Length(max=NAME_MAX)],
        description="Used when no existing cohort is chosen.",
    )
    top = IntegerField("How many", validators=[Optional(), NumberRange(min=1, max=MAX_LIMIT)])
    enroll_selected = SubmitField("Enroll selected")
    enroll_top = SubmitField("Enroll the top")

    def validate_new_cohort(self, field) -> None:
        """Require a name when no existing cohort is chosen."""
        if not self.cohort.data and not (field.data or "").strip():
            raise ValidationError("Name the new cohort, or choose an existing one.")

    def validate_accounts(self, field) -> None:
        """Require ticked accounts when enrolling the selection."""
        if not self.enroll_top.data and not field.data:
            raise ValidationError("Tick the accounts to enroll, or enroll the top ones.")

    def validate_top(self, field) -> None:
        """Require a number when enrolling the top accounts."""
        if self.enroll_top.data and not field.data:
            raise ValidationError(f"Say how many, from 1 to {MAX_LIMIT}.")


class ProblemSearchForm(FlaskForm):
    """A search to save on the beta as a problem search."""

    query = HiddenField(validators=[DataRequired(message="Search first, then save the search.")])


# Random samples

_ATTRIBUTE_NAME = Regexp(
    f"^{ATTRIBUTE_PATTERN}$", message="An attribute name, without quotes or backslashes."
)


def _stripped(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def parse_filters(text: str) -> dict[str, list[str]]:
    """Read "attribute = value, value" lines; raise ValueError naming the line that is wrong.

    Two lines name one attribute when their names differ only in case or spacing.
    """
    filters: dict[str, list[str]] = {}
    lines: dict[str, tuple[int, str]] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, equals, values = line.partition("=")
        name = name.strip()
        if not equals or not name:
            raise ValueError(f"Line {number}: write attribute = value, value (plan = pro, team).")
        if fold_name(name) in lines:
            first, written = lines[fold_name(name)]
            raise ValueError(
                f"Line {number}: {name} is on line {first} already"
                f"{'' if written == name else f' (as {written})'}; "
                "put all its values on one line."
            )
        filters[name] = [v.strip() for v in values.split(",") if v.strip()]
        lines[fold_name(name)] = (number, name)
        if not filters[name]:
            raise ValueError(f"Line {number}: give {name} at least one value.")
    return filters


def format_filters(filters: dict[str, list[str]]) -> str:
    """Write filters as the "attribute = value, value" lines that parse_filters() reads."""
    return "\n".join(f"{name} = {', '.join(values)}" for name, values in filters.items())


# The id of the page's list of attribute names, which the attribute fields offer.
ATTRIBUTES_LIST = "sample-attributes"
_SIZE_RANGE = NumberRange(min=1, max=MAX_SIZE)


class SampleForm(FlaskForm):
    """A random sample to preview, then draw: size, seed, the pool's filters, strata and mix."""

    size = IntegerField("Sample size", validators=[InputRequired(), _SIZE_RANGE])
    seed = StringField(
        "Seed",
        filters=[_stripped],
        validators=[
            Optional(),
            Regexp(
                f"^{SEED_PATTERN}$",
                message="Up to 64 letters, digits, dots, hyphens or underscores.",
            ),
        ],
        description="Leave empty for a new random one. The cohort keeps it: later draws "
        "continue the same order, and the same seed always draws the same accounts.",
    )
    filters = TextAreaField(
        "Only accounts with",
        validators=[Length(max=20_000)],
        description="One attribute a line: attribute = value, value (plan = pro, team). Values "
        "are compared as text; an account needs one of the values on every line.",
    )
    stratify_by = StringField(
        "Stratify by",
        filters=[_stripped],
        validators=[Optional(), _ATTRIBUTE_NAME],
        description="An attribute such as plan: each of its values gets its share of the pool.",
        render_kw={"list": ATTRIBUTES_LIST, "autocomplete": "off"},
    )
    exclude_other_betas = BooleanField(
        "Leave out accounts that are active or invited in another running beta"
    )
    mix_by = StringField(
        "Compare the mix of",
        filters=[_stripped],
        validators=[Optional(), _ATTRIBUTE_NAME],
        description="An attribute to compare in the sample, the pool and the early adopters "
        "(the one you stratify by when empty).",
        render_kw={"list": ATTRIBUTES_LIST, "autocomplete": "off"},
    )

    def start_from(self, start: NextDraw, cohort_name: str) -> None:
        """Continue the cohort: its seed, its latest draw's pool, what its planned size asks for.

        A cohort that has reached its planned size gets no size: the hint says so, and a preview
        without one is told that a size draws more beyond the plan.
        """
        if start.to_plan:
            self.size.description = (
                f"{cohort_name} plans {plural(start.planned_size, 'account')} and has "
                f"{start.members:,}: {start.to_plan:,} more fill it."
            )
        elif start.to_plan == 0:
            planned = plural(start.planned_size, "account")
            self.size.description = (
                f"{cohort_name} has reached its planned size of {planned}. To draw more "
                "beyond the plan, say how many."
            )
            # A list of its own: the class's validators are shared by every form.
            self.size.validators = [
                InputRequired(f"Give a size to draw more beyond the plan of {planned}."),
                _SIZE_RANGE,
            ]
        if self.is_submitted():
            return
        latest = start.latest
        self.size.data = start.to_plan or None
        self.seed.data = start.seed
        self.filters.data = format_filters(latest.get("filters", {}))
        self.stratify_by.data = latest.get("stratify_by")
        self.exclude_other_betas.data = latest.get("exclusions", {}).get("other_running_betas")
        self.mix_by.data = latest.get("stratify_by")

    def validate_filters(self, field) -> None:
        """Require well-formed lines."""
        try:
            parse_filters(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def spec(self) -> SampleSpec:
        """Return the sample the form describes."""
        return SampleSpec(
            size=self.size.data,
            seed=self.seed.data or None,
            filters=parse_filters(self.filters.data),
            stratify_by=self.stratify_by.data or None,
            exclude_other_betas=self.exclude_other_betas.data,
        )

    def mix_attribute(self) -> str | None:
        """Return the attribute whose mix to compare."""
        return self.mix_by.data or self.stratify_by.data or None
