"""The finder pages: search what customers wrote, enroll the accounts that asked, save searches."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from betas import lifecycle, web
from betas.auth.permissions import EDITORS
from betas.auth.web import current_actor, role_required
from betas.db import get_session
from betas.errors import DomainError
from betas.models import Beta
from betas.wording import plural
from cohorts import finder, waves
from cohorts.forms import EnrollAdoptersForm, FinderSearchForm, ProblemSearchForm
from cohorts.memberships import Enrollment
from cohorts.models import Cohort, CohortKind
from cohorts.views import cohorts

NAMES_SHOWN = 10


def _enroll_form(beta: Beta) -> EnrollAdoptersForm:
    """Return the enroll form, offering the beta's early-adopter cohorts and a new one."""
    form = EnrollAdoptersForm()
    early = [
        c for c in waves.list_cohorts(get_session(), beta) if c.kind == CohortKind.EARLY_ADOPTERS
    ]
    form.cohort.choices = [SelectChoice(c.slug, c.name) for c in early] + [
        SelectChoice("", "A new cohort…")
    ]
    if not form.is_submitted():
        form.cohort.data = early[0].slug if early else ""
        form.new_cohort.data = "" if early else "Early adopters"
        form.top.data = 10
    return form


def _render_finder(
    beta: Beta, search_form: FinderSearchForm, enroll_form: EnrollAdoptersForm | None = None
):
    """Render the finder; run the search when one was sent, showing its problems on the form."""
    session = get_session()
    result, status = None, 200
    if search_form.query.raw_data:
        if search_form.validate():
            try:
                result = finder.search(
                    session,
                    beta,
                    search_form.criteria(),
                    limit=search_form.limit.data or 20,
                    zone=web.settings().zone,
                )
            except DomainError as exc:
                web.show_refusal(search_form, exc)
        if result is None:
            status = 400
    problem_searches = finder.list_problem_searches(session, beta)
    return render_template(
        "cohorts/finder.html",
        beta=beta,
        search=search_form,
        result=result,
        enroll=enroll_form or _enroll_form(beta),
        save_form=ProblemSearchForm(query=search_form.query.data),
        closed=web.closed_reason(beta),
        problem_searches=problem_searches,
        saved_search=finder.saved_as(problem_searches, result.query) if result else None,
    ), status


@cohorts.get("/betas/<key>/finder")
def finder_page(key):
    """Search what customers wrote for the accounts that asked; list the saved problem searches."""
    beta = lifecycle.get_beta(get_session(), key)
    return _render_finder(beta, FinderSearchForm(formdata=request.args))


def _names(accounts: list[str]) -> str:
    more = len(accounts) - NAMES_SHOWN
    return ", ".join(accounts[:NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _flash_enrollment(cohort: Cohort, enrollment: Enrollment) -> None:
    """Say who joined the cohort and, reason by reason, who was skipped."""
    if enrollment.enrolled:
        flash(
            f"Enrolled {plural(len(enrollment.enrolled), 'account')} in {cohort.name}: "
            f"{_names(enrollment.enrolled)}. Each membership cites the evidence.",
            "success",
        )
    else:
        flash(f"Nobody new joined {cohort.name}.", "info")
    skipped: dict[str, list[str]] = {}
    for item in enrollment.skipped:
        skipped.setdefault(item["reason"], []).append(item["account"])
    for reason, accounts in skipped.items():
        flash(f"Skipped {_names(accounts)}: {reason}.", "info")


@cohorts.route("/betas/<key>/finder/enroll", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("cohorts.finder_page", key=key))
@role_required(*EDITORS)
def finder_enroll(key):
    """Enroll the ticked accounts, or the top ones, in an early-adopter cohort, citing evidence."""
    beta = web.editable_beta(key)
    search_form = FinderSearchForm(formdata=request.form)
    form = _enroll_form(beta)
    if search_form.validate() & form.validate_on_submit():
        by_top = bool(form.enroll_top.data)
        done = web.commit(
            lambda s: finder.enroll_adopters(
                s,
                current_actor(),
                beta,
                search_form.criteria(),
                today=web.configured_today(),
                cohort_slug=form.cohort.data or None,
                new_cohort=None if form.cohort.data else form.new_cohort.data,
                accounts=None if by_top else form.accounts.data,
                top=form.top.data if by_top else None,
                zone=web.settings().zone,
            ),
            form=form,
        )
        if done:
            _flash_enrollment(*done.value)
            # Without a fragment of its own the browser keeps the form's #enroll-form and lands
            # below the messages that say who joined; #top is the top of any page.
            return redirect(
                url_for("cohorts.finder_page", key=beta.key, _anchor="top", **search_form.args())
            )
    # The form's action ends in #enroll-form: the browser opens it, its error summary first.
    page, _status = _render_finder(beta, search_form, form)
    return page, 422


@cohorts.post("/betas/<key>/finder/problem-searches")
@role_required(*EDITORS)
def finder_save_search(key):
    """Save the search on the beta as a problem search."""
    beta = web.editable_beta(key)
    form = ProblemSearchForm()
    if form.validate_on_submit():
        web.commit(
            lambda s: finder.save_problem_search(s, current_actor(), beta, form.query.data),
            success="Saved as a problem search: "
            "random samples will leave out the accounts matching it.",
        )
    else:
        flash("Search first, then save the search.", "error")
    return redirect(url_for("cohorts.finder_page", key=beta.key, query=form.query.data or None))
