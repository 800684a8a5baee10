"""The web kit: what the pages of every package stand on.

Today in the configured zone; the beta the signed-in user may change, and whether it may grow;
the one helper that runs a service call and commits (or rolls back and shows the refusal); the
button form and the slug field; this app's launch requirements; the beta's page as the roof
renders it; the sections and member columns that higher packages add to the account and cohort
pages; the template helpers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from flask import Flask, abort, current_app, flash, redirect, request
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy.orm import Session
from wtforms import FieldList, Form, FormField, HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from betas import audit, lifecycle, messages, metric_rules, metrics
from betas.auth import permissions
from betas.config import Settings
from betas.db import get_session
from betas.errors import DomainError
from betas.models import KEY_MAX, KEY_PATTERN, SLUG_HINT, Beta
from betas.wording import plural

T = TypeVar("T")
LAUNCH_REQUIREMENTS = "shipcall.launch_requirements"
BETA_PAGE = "shipcall.beta_page"
ACCOUNT_PANELS = "shipcall.account_panels"
MEMBER_COLUMNS = "shipcall.member_columns"

# A package's section of the account page: the account's external id → HTML rendered from an
# autoescaped template ("" for nothing to show).
AccountPanel = Callable[[str], str]
# A package's cells on a cohort page's member rows: the beta and its memberships → {membership
# id: HTML rendered from an autoescaped template}, in a fixed number of statements.
MemberCells = Callable[[Beta, Sequence[Any]], Mapping[int, str]]


@dataclass(frozen=True)
class MemberColumn:
    """A column a package adds to a cohort page's member rows: its heading and its cells."""

    heading: str
    cells: Mapping[int, Markup]


def settings() -> Settings:
    """Return the app's settings."""
    return current_app.config["SHIPCALL"]


def configured_today() -> date:
    """Return today in the configured time zone: the day deadlines are read against."""
    return lifecycle.today_in(settings().zone)


def editable_beta(key: str) -> Beta:
    """Return the beta if the signed-in user may change it; 404 or 403 otherwise."""
    beta = lifecycle.get_beta(get_session(), key)
    if not permissions.can_edit(current_user, beta):
        abort(403)
    return beta


def closed_reason(beta: Beta) -> str:
    """Say why the beta cannot take accounts today (not running, overdue), or '' when it can."""
    try:
        lifecycle.check_open(beta, configured_today())
    except DomainError as exc:
        return exc.message
    return ""


class ActionForm(FlaskForm):
    """A button that changes something: it carries nothing but the CSRF token."""


class ColumnForm(Form):
    """One column of an uploaded table and the field it holds."""

    column = HiddenField()
    maps_to = SelectField()


class ColumnsForm(FlaskForm):
    """An uploaded table kept between its preview and its import, and its columns' fields.

    The upload is named by its random id; each import's form adds what else it carries.
    """

    upload = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{32}$")])
    # The name the browser sent: the user's own label for the file, shown in the histories
    # (which keep it without its folders, cut to fit).
    file_name = HiddenField()
    columns = FieldList(FormField(ColumnForm))

    def offer_fields(self, labels: Mapping[str, str]) -> None:
        """Offer, for every column, these fields (name → label)."""
        choices = [SelectChoice(name, label) for name, label in labels.items()]
        for entry in self.columns:
            entry.maps_to.choices = choices

    def show_columns(self, mapping: Mapping[str, str], labels: Mapping[str, str]) -> None:
        """List the file's columns with their fields, the first time its mapping is shown."""
        if not self.columns.entries:
            for column, name in mapping.items():
                self.columns.append_entry({"column": column, "maps_to": name})
        self.offer_fields(labels)

    def chosen(self) -> dict[str, str]:
        """Return the field chosen for each column."""
        return {entry.column.data: entry.maps_to.data for entry in self.columns}


def slug_field(label: str, description: str) -> StringField:
    """Return a required slug field for a form: a beta's key, a cohort's slug."""
    return StringField(
        label,
        validators=[DataRequired(), Length(max=KEY_MAX), Regexp(KEY_PATTERN, message=SLUG_HINT)],
        description=description,
    )


def show_refusal(form: FlaskForm, exc: DomainError) -> None:
    """Put a service's refusal next to the fields it names; flash what no field holds."""
    unplaced = []
    for detail in exc.details:
        field = form._fields.get(detail.get("field", ""))
        if field is not None:
            field.errors = [*field.errors, detail["message"]]
        else:
            unplaced.append(detail["message"])
    if unplaced or not exc.details:
        flash(exc.message, "error")


@dataclass
class Outcome(Generic[T]):
    """What a service call gave: its value once committed, or the refusal that undid it."""

    value: T | None = None
    refusal: DomainError | None = None

    def __bool__(self) -> bool:
        return self.refusal is None


def commit(
    change: Callable[[Session], T],
    *,
    form: FlaskForm | None = None,
    success: str | Callable[[T], str] | None = None,
    show: bool = True,
    keep_refused: bool = False,
) -> Outcome[T]:
    """Run one service call in this request's session and commit what it wrote.

    A refusal (a DomainError) is rolled back — or committed with `keep_refused`, for a refusal
    that must still be recorded, like a failed sign-in — and shown: on `form`'s fields where it
    names them, flashed otherwise; `show=False` leaves showing it to the caller. `success` is
    flashed after the commit (a callable receives the service's result).
    """
    session = get_session()
    try:
        value = change(session)
    except DomainError as exc:
        if keep_refused:
            session.commit()
        else:
            session.rollback()
        if show and form is not None:
            show_refusal(form, exc)
        elif show:
            flash(exc.message, "error")
        return Outcome(refusal=exc)
    session.commit()
    if success is not None:
        flash(success(value) if callable(success) else success, "success")
    return Outcome(value)


def storing(read: Callable[[Session], T]) -> T:
    """Run a read that stores what it computed (metric values, in a `db.stores` view); commit.

    A refusal is rolled back and raised, for the app's error pages: a read has no form.
    """
    outcome = commit(read, show=False)
    if outcome.refusal is not None:
        raise outcome.refusal
    return outcome.value


def reload_goes_to(page: Callable[..., str]):
    """Answer GET on a form's POST URL with a redirect to `page(**url values)`.

    A failed form renders its page at the URL it was posted to, so that nothing typed is lost;
    opening that URL again (a bookmark, a shared link, the address bar) lands on the page itself.
    Decorate a view routed for GET and POST.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapped(**values):
            if request.method == "GET":
                return redirect(page(**values))
            return view(**values)

        return wrapped

    return decorator


def register_launch_requirement(app: Flask, requirement: lifecycle.LaunchRequirement) -> None:
    """Add a package's launch requirement to this app's list (when the app is created)."""
    app.extensions[LAUNCH_REQUIREMENTS].append(requirement)


def launch_requirements() -> tuple[lifecycle.LaunchRequirement, ...]:
    """Return every launch requirement of this app: the core's, then the packages'."""
    return tuple(current_app.extensions[LAUNCH_REQUIREMENTS])


def register_account_panel(app: Flask, panel: AccountPanel) -> None:
    """Add a package's section to the account page (when the app is created)."""
    app.extensions[ACCOUNT_PANELS].append(panel)


def account_panels(external_id: str) -> list[Markup]:
    """Return the sections the packages add to this account's page, in the order registered."""
    rendered = (panel(external_id) for panel in current_app.extensions[ACCOUNT_PANELS])
    return [Markup(html) for html in rendered if html]


def register_member_column(app: Flask, heading: str, cells: MemberCells) -> None:
    """Add a package's column to the member rows of the cohort pages (when the app is created)."""
    app.extensions[MEMBER_COLUMNS].append((heading, cells))


def member_columns(beta: Beta, members: Sequence[Any]) -> list[MemberColumn]:
    """Return the columns the packages add to these member rows, with a cell for each."""
    return [
        MemberColumn(heading, {key: Markup(html) for key, html in cells(beta, members).items()})
        for heading, cells in current_app.extensions[MEMBER_COLUMNS]
    ]


def render_beta_page(beta: Beta, status: int = 200, **failed_forms):
    """Render the beta's hub page, which the roof draws from every package.

    A form that failed is passed in so that it keeps what was typed.
    """
    return current_app.extensions[BETA_PAGE](beta, **failed_forms), status


def _template_helpers() -> dict:
    today = configured_today()
    return {
        "today": today,
        "is_overdue": lambda beta: lifecycle.is_overdue(beta, today),
        "days_left": lambda beta: lifecycle.days_left(beta, today),
        "describe_target": metrics.describe_target,
        "describe_rule": metric_rules.describe_rule,
        "describe_entry": audit.describe,
        "message_of": messages.message_of,
        "can_edit": lambda beta: permissions.can_edit(current_user, beta),
        "can_frame": lambda: current_user.is_authenticated and permissions.can_frame(current_user),
    }


def init_app(app: Flask, beta_page: Callable) -> None:
    """Install the kit: template helpers and filters, the launch requirements, the beta's page."""
    zone = app.config["SHIPCALL"].zone
    app.extensions[LAUNCH_REQUIREMENTS] = list(lifecycle.CORE_REQUIREMENTS)
    app.extensions[BETA_PAGE] = beta_page
    app.extensions[ACCOUNT_PANELS] = []
    app.extensions[MEMBER_COLUMNS] = []
    app.context_processor(_template_helpers)

    @app.template_filter("localtime")
    def localtime(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    app.add_template_filter(plural)

    @app.template_filter("longdate")
    def longdate(value: date | None) -> str:
        return value.strftime("%a %-d %b %Y") if value else ""
