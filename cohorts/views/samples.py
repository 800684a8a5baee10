"""The random-sample pages: preview a reproducible draw of accounts that never asked; draw it."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from betas import lifecycle, web
from betas.auth.permissions import EDITORS, can_edit
from betas.auth.web import current_actor, role_required
from betas.db import get_session, read_only
from betas.models import Beta
from betas.wording import plural
from cohorts import roster, sampling, waves
from cohorts.forms import SampleForm, format_filters
from cohorts.models import Cohort
from cohorts.views import cohorts

FIRST_SHOWN = 20


def _sample_form(session, beta: Beta, cohort: Cohort) -> SampleForm:
    """Return the sample form; a new one continues the cohort: its seed, its latest draw's pool."""
    form = SampleForm()
    if not form.is_submitted():
        latest = sampling.last_draw(cohort) or {}
        in_cohort = sum(roster.cohort_counts(session, beta).get(cohort.id, {}).values())
        if cohort.planned_size and cohort.planned_size > in_cohort:
            form.size.data = cohort.planned_size - in_cohort
        form.seed.data = cohort.criteria.get("seed")
        form.filters.data = format_filters(latest.get("filters", {}))
        form.stratify_by.data = latest.get("stratify_by")
        form.exclude_other_betas.data = latest.get("exclusions", {}).get("other_running_betas")
        form.mix_by.data = latest.get("stratify_by")
    return form


def _render_sample(beta: Beta, cohort: Cohort, form: SampleForm, sample=None, status=200):
    return render_template(
        "cohorts/sample.html",
        beta=beta,
        cohort=cohort,
        form=form,
        sample=sample,
        first=sample.accounts[:FIRST_SHOWN] if sample else [],
        draws=cohort.criteria.get("draws", []),
        closed=web.closed_reason(beta),
    ), status


@cohorts.route("/betas/<key>/cohorts/<slug>/sample", methods=["GET", "POST"])
@read_only
def sample_page(key, slug):
    """Show the random-sample form; preview a draw: pool, sample, mix and first accounts."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    cohort = waves.get_cohort(session, beta, slug)
    form = _sample_form(session, beta, cohort)
    if not form.is_submitted():
        return _render_sample(beta, cohort, form)
    if not can_edit(current_user, beta):
        abort(403)
    if not form.validate():
        return _render_sample(beta, cohort, form, status=422)
    # A preview writes nothing: the commit only ends the read.
    done = web.commit(
        lambda s: sampling.draw_sample(
            s,
            current_actor(),
            beta,
            cohort,
            form.spec(),
            web.configured_today(),
            dry_run=True,
            mix_by=form.mix_attribute(),
        ),
        form=form,
    )
    if not done:
        return _render_sample(beta, cohort, form, status=done.refusal.status)
    return _render_sample(beta, cohort, form, done.value)


@cohorts.post("/betas/<key>/cohorts/<slug>/sample/draw")
@role_required(*EDITORS)
def sample_draw(key, slug):
    """Draw the previewed sample and enroll it; back to the cohort, saying how many joined."""
    beta = web.editable_beta(key)
    cohort = waves.get_cohort(get_session(), beta, slug)
    form = SampleForm()
    if not form.validate():
        return _render_sample(beta, cohort, form, status=422)
    done = web.commit(
        lambda s: sampling.draw_sample(
            s, current_actor(), beta, cohort, form.spec(), web.configured_today()
        ),
        form=form,
        success=lambda sample: (
            f"Enrolled {plural(len(sample.enrollment.enrolled), 'account')} drawn at "
            f"random from a pool of {sample.pool_size:,} (seed {sample.seed})."
        ),
    )
    if not done:
        return _render_sample(beta, cohort, form, status=done.refusal.status)
    for skipped in done.value.enrollment.skipped:
        flash(f"Skipped {skipped['account']}: {skipped['reason']}.", "info")
    return redirect(url_for("cohorts.cohort_page", key=key, slug=slug))
