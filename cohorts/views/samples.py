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
from cohorts import sample_specs, sampling, waves
from cohorts.forms import ATTRIBUTES_LIST, SampleForm
from cohorts.models import Cohort
from cohorts.views import cohorts

FIRST_SHOWN = 20


def _sample_form(start: sample_specs.NextDraw, cohort: Cohort) -> SampleForm:
    """Return the sample form; a new one continues the cohort (sample_specs.next_draw)."""
    form = SampleForm()
    form.start_from(start, cohort.name)
    return form


def _render_sample(
    beta: Beta,
    cohort: Cohort,
    start: sample_specs.NextDraw,
    form: SampleForm,
    sample=None,
    status=200,
):
    return render_template(
        "cohorts/sample.html",
        beta=beta,
        cohort=cohort,
        start=start,
        form=form,
        attributes_list=ATTRIBUTES_LIST,
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
    start = sample_specs.next_draw(session, beta, cohort)
    form = _sample_form(start, cohort)
    if not form.is_submitted():
        return _render_sample(beta, cohort, start, form)
    if not can_edit(current_user, beta):
        abort(403)
    if not form.validate():
        return _render_sample(beta, cohort, start, form, status=422)
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
        return _render_sample(beta, cohort, start, form, status=done.refusal.status)
    return _render_sample(beta, cohort, start, form, done.value)


@cohorts.route("/betas/<key>/cohorts/<slug>/sample/draw", methods=["GET", "POST"])
@web.reload_goes_to(lambda key, slug: url_for("cohorts.sample_page", key=key, slug=slug))
@role_required(*EDITORS)
def sample_draw(key, slug):
    """Draw the previewed sample and enroll it; back to the cohort, saying how many joined."""
    beta = web.editable_beta(key)
    session = get_session()
    cohort = waves.get_cohort(session, beta, slug)
    start = sample_specs.next_draw(session, beta, cohort)
    form = _sample_form(start, cohort)
    if not form.validate():
        return _render_sample(beta, cohort, start, form, status=422)
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
        return _render_sample(beta, cohort, start, form, status=done.refusal.status)
    for skipped in done.value.enrollment.skipped:
        flash(f"Skipped {skipped['account']}: {skipped['reason']}.", "info")
    return redirect(url_for("cohorts.cohort_page", key=key, slug=slug))
