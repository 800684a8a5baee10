"""The cohort pages: a beta's waves, their members, enrolling by hand, notices, moves, opt-outs."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from betas import lifecycle, web
from betas.auth.permissions import EDITORS, can_edit
from betas.auth.web import current_actor, role_required
from betas.db import get_session
from betas.models import Beta
from betas.wording import plural
from cohorts import memberships, roster, waves
from cohorts.forms import AddMembersForm, CohortForm, MoveForm, OptOutForm
from cohorts.models import MembershipStatus
from cohorts.views import cohorts


def _cohort_choices(session, beta: Beta) -> list[SelectChoice]:
    return [SelectChoice(c.slug, c.name) for c in waves.list_cohorts(session, beta)]


@cohorts.route("/betas/<key>/cohorts", methods=["GET", "POST"])
def cohort_list(key):
    """List a beta's cohorts, wave by wave, and add one."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    form = CohortForm()
    if form.is_submitted():
        if not can_edit(current_user, beta):
            abort(403)
        if form.validate():
            done = web.commit(
                lambda s: waves.create_cohort(
                    s,
                    current_actor(),
                    beta,
                    slug=form.slug.data,
                    name=form.name.data,
                    kind=form.kind.data,
                    planned_size=form.planned_size.data,
                    today=web.configured_today(),
                ),
                form=form,
                success=lambda cohort: f"Cohort {cohort.name} added.",
            )
            if done:
                return redirect(url_for("cohorts.cohort_page", key=key, slug=done.value.slug))
    return render_template(
        "cohorts/cohorts.html",
        beta=beta,
        cohorts=waves.list_cohorts(session, beta),
        counts=roster.cohort_counts(session, beta),
        form=form,
    ), (422 if form.errors else 200)


@cohorts.get("/betas/<key>/cohorts/<slug>")
def cohort_page(key, slug):
    """Show a cohort's members: why each is there, status, who enrolled them, when notified."""
    return _render_cohort(key, slug)


def _render_cohort(key, slug, add_form=None, status=200):
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    cohort = waves.get_cohort(session, beta, slug)
    move_form = MoveForm(formdata=None)
    move_form.cohort.choices = _cohort_choices(session, beta)
    members = roster.members(session, beta, cohort)
    return render_template(
        "cohorts/cohort.html",
        beta=beta,
        cohort=cohort,
        members=members,
        columns=web.member_columns(beta, members),
        headcount=roster.headcount(members),
        add_form=add_form or AddMembersForm(formdata=None),
        move_form=move_form,
        action=web.ActionForm(),
    ), status


@cohorts.route("/betas/<key>/cohorts/<slug>/members", methods=["GET", "POST"])
@web.reload_goes_to(lambda key, slug: url_for("cohorts.cohort_page", key=key, slug=slug))
@role_required(*EDITORS)
def add_members(key, slug):
    """Enroll accounts by hand, with a reason; say which were skipped and why."""
    beta = web.editable_beta(key)
    form = AddMembersForm()
    if not form.validate():
        return _render_cohort(key, slug, form, 422)
    ids = [i.strip() for line in form.accounts.data.splitlines() for i in line.split(",")]
    done = web.commit(
        lambda s: memberships.enroll(
            s,
            current_actor(),
            beta,
            waves.get_cohort(s, beta, slug),
            ids,
            form.reason.data,
            web.configured_today(),
            override_opt_out=form.override_opt_out.data,
        ),
        form=form,
    )
    if not done:
        return _render_cohort(key, slug, form, done.refusal.status)
    if done.value.enrolled:
        flash(f"Enrolled {plural(len(done.value.enrolled), 'account')}.", "success")
    for skipped in done.value.skipped:
        flash(f"Skipped {skipped['account']}: {skipped['reason']}.", "info")
    # The form posted to #add-members-form, which the browser keeps through a redirect that names
    # no fragment: name the page's heading, shown with the flashes above it (who joined, who not).
    return redirect(url_for("cohorts.cohort_page", key=key, slug=slug, _anchor="cohort"))


@cohorts.post("/betas/<key>/cohorts/<slug>/notify")
@role_required(*EDITORS)
def notify_cohort(key, slug):
    """Record that every active member of the cohort not yet notified has been told."""
    beta = web.editable_beta(key)
    if web.ActionForm().validate_on_submit():
        session = get_session()
        cohort = waves.get_cohort(session, beta, slug)
        waiting = [
            m.account.external_id
            for m in roster.members(session, beta, cohort)
            if m.status == MembershipStatus.ACTIVE and m.notified_at is None
        ]
        web.commit(
            lambda s: memberships.mark_notified(s, current_actor(), beta, waiting),
            success=f"Marked {plural(len(waiting), 'member')} as notified.",
        )
    return redirect(url_for("cohorts.cohort_page", key=key, slug=slug))


MEMBER_ACTIONS = {
    "notify": (
        lambda s, actor, beta, account: memberships.mark_notified(s, actor, beta, [account]),
        "{account} is marked as notified.",
    ),
    "accept": (
        lambda s, actor, beta, account: memberships.record_response(
            s, actor, beta, account, True, today=web.configured_today()
        ),
        "{account} accepted the invitation and is active.",
    ),
    "decline": (
        lambda s, actor, beta, account: memberships.record_response(
            s, actor, beta, account, False, today=web.configured_today()
        ),
        "{account} declined the invitation.",
    ),
}


def _back_to_member(beta: Beta, account: str):
    """Return to the cohort the account is in now, or to the cohorts when it is in none."""
    membership = memberships.get_membership(get_session(), beta, account)
    if membership is None:
        return redirect(url_for("cohorts.cohort_list", key=beta.key))
    return redirect(url_for("cohorts.cohort_page", key=beta.key, slug=membership.cohort.slug))


@cohorts.post("/betas/<key>/members/<path:account>/<any(notify, accept, decline):act>")
@role_required(*EDITORS)
def member_action(key, account, act):
    """Record a notice or an answer to an invitation for one member."""
    beta = web.editable_beta(key)
    if web.ActionForm().validate_on_submit():
        change, message = MEMBER_ACTIONS[act]
        web.commit(
            lambda s: change(s, current_actor(), beta, account),
            success=message.format(account=account),
        )
    return _back_to_member(beta, account)


@cohorts.route("/betas/<key>/members/<path:account>/opt-out", methods=["GET", "POST"])
@role_required(*EDITORS)
def opt_out(key, account):
    """Ask to confirm that the account opts out for good, with a reason if given; then do it."""
    beta = web.editable_beta(key)
    membership = memberships.get_membership(get_session(), beta, account)
    if membership is None:
        abort(404, f"{account} is not in beta {beta.key}.")
    form = OptOutForm()
    if form.validate_on_submit():
        done = web.commit(
            lambda s: memberships.opt_out(s, current_actor(), beta, account, form.reason.data),
            form=form,
            success=f"{account} opted out; it stays out of this beta.",
        )
        if done:
            return _back_to_member(beta, account)
    return render_template("cohorts/opt_out.html", beta=beta, membership=membership, form=form), (
        422 if form.errors else 200
    )


@cohorts.post("/betas/<key>/members/<path:account>/move")
@role_required(*EDITORS)
def move_member(key, account):
    """Move a member to another cohort of the same beta."""
    beta = web.editable_beta(key)
    form = MoveForm()
    form.cohort.choices = _cohort_choices(get_session(), beta)
    if form.validate_on_submit():
        target = waves.get_cohort(get_session(), beta, form.cohort.data)
        web.commit(
            lambda s: memberships.place_member(
                s,
                current_actor(),
                beta,
                account,
                target,
                form.reason.data or "",
                web.configured_today(),
            ),
            success=f"{account} is now in {target.name}.",
        )
    return _back_to_member(beta, account)


def _everyone() -> bool:
    """Tell whether the export asks for every member (include=all), or only those to message."""
    include = request.args.get("include", "")
    if include not in ("", "all"):
        abort(400, "Leave include out for the members to message, or say include=all for everyone.")
    return include == "all"


def _csv(rows, filename: str) -> Response:
    return Response(
        rows,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@cohorts.get("/betas/<key>/members.csv")
def members_csv(key):
    """Download a beta's members for the messaging tool: those to message, or all (include=all)."""
    everyone = _everyone()
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    rows = roster.export_members(session, beta, web.settings().zone, everyone=everyone)
    return _csv(rows, f"{beta.key}-members.csv")


@cohorts.get("/betas/<key>/cohorts/<slug>/members.csv")
def cohort_members_csv(key, slug):
    """Download one cohort's members for the messaging tool, as members_csv() does."""
    everyone = _everyone()
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    cohort = waves.get_cohort(session, beta, slug)
    rows = roster.export_members(
        session, beta, web.settings().zone, cohort=cohort, everyone=everyone
    )
    return _csv(rows, f"{beta.key}-{cohort.slug}-members.csv")
