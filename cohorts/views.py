"""Pages for cohorts: imports, the early-adopter finder, cohorts, members and accounts."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, or_, select
from wtforms import SelectChoice

from betas import auth, lifecycle
from betas.db import get_session
from betas.errors import DomainError
from betas.forms import ActionForm, show_refusal
from betas.models import Beta, Role
from cohorts import services
from cohorts.forms import AddMembersForm, CohortForm, MoveForm
from cohorts.models import Account, Conversation

cohorts = Blueprint("cohorts", __name__)
EDITORS = (Role.PM, Role.ADMIN)
ACCOUNTS_PER_PAGE = 50


def _today():
    return lifecycle.today_in(current_app.config["SHIPCALL"].zone)


def _editable(key: str) -> Beta:
    """Return the beta if the signed-in user may change it; 404 or 403 otherwise."""
    beta = lifecycle.get_beta(get_session(), key)
    if not auth.can_edit(current_user, beta):
        abort(403)
    return beta


def _cohort_choices(session, beta: Beta) -> list[SelectChoice]:
    return [SelectChoice(c.slug, c.name) for c in services.list_cohorts(session, beta)]


def _apply(change, success: str) -> bool:
    """Run one service call, commit, and flash what happened; False when it was refused."""
    session = get_session()
    try:
        change(session)
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        return False
    session.commit()
    flash(success, "success")
    return True


# --- Imports: upload, map columns, preview, import ---------------------------------------------

# --- Finder: search customer conversations, enroll, save problem searches ------------------------

# --- Cohorts, members and accounts ------------------------------------------------------------


@cohorts.route("/betas/<key>/cohorts", methods=["GET", "POST"])
def cohort_list(key):
    """List a beta's cohorts, wave by wave, and add one."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    form = CohortForm()
    if form.is_submitted():
        if not auth.can_edit(current_user, beta):
            abort(403)
        if form.validate():
            try:
                cohort = services.create_cohort(
                    session,
                    auth.current_actor(),
                    beta,
                    slug=form.slug.data,
                    name=form.name.data,
                    kind=form.kind.data,
                    planned_size=form.planned_size.data,
                    today=_today(),
                )
            except DomainError as exc:
                session.rollback()
                show_refusal(form, exc)
            else:
                session.commit()
                flash(f"Cohort {cohort.name} added.", "success")
                return redirect(url_for("cohorts.cohort_page", key=key, slug=cohort.slug))
    return render_template(
        "cohorts/cohorts.html",
        beta=beta,
        cohorts=services.list_cohorts(session, beta),
        counts=services.cohort_counts(session, beta),
        form=form,
    ), (422 if form.errors else 200)


@cohorts.get("/betas/<key>/cohorts/<slug>")
def cohort_page(key, slug):
    """Show a cohort's members: why each is there, status, who enrolled them, when notified."""
    return _render_cohort(key, slug)


def _render_cohort(key, slug, add_form=None, status=200):
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    cohort = services.get_cohort(session, beta, slug)
    move_form = MoveForm(formdata=None)
    move_form.cohort.choices = _cohort_choices(session, beta)
    return render_template(
        "cohorts/cohort.html",
        beta=beta,
        cohort=cohort,
        members=services.members(session, beta, cohort),
        add_form=add_form or AddMembersForm(formdata=None),
        move_form=move_form,
        action=ActionForm(),
    ), status


@cohorts.post("/betas/<key>/cohorts/<slug>/members")
@auth.role_required(*EDITORS)
def add_members(key, slug):
    """Enroll accounts by hand, with a reason; say which were skipped and why."""
    beta = _editable(key)
    form = AddMembersForm()
    if not form.validate():
        return _render_cohort(key, slug, form, 422)
    session = get_session()
    ids = [i.strip() for line in form.accounts.data.splitlines() for i in line.split(",")]
    try:
        result = services.enroll(
            session,
            auth.current_actor(),
            beta,
            services.get_cohort(session, beta, slug),
            ids,
            form.reason.data,
            _today(),
            override_opt_out=form.override_opt_out.data,
        )
    except DomainError as exc:
        session.rollback()
        show_refusal(form, exc)
        return _render_cohort(key, slug, form, exc.status)
    session.commit()
    if result.enrolled:
        flash(f"Enrolled {len(result.enrolled)} account(s).", "success")
    for skipped in result.skipped:
        flash(f"Skipped {skipped['account']}: {skipped['reason']}.", "info")
    return redirect(url_for("cohorts.cohort_page", key=key, slug=slug))


@cohorts.post("/betas/<key>/cohorts/<slug>/notify")
@auth.role_required(*EDITORS)
def notify_cohort(key, slug):
    """Record that every active member of the cohort not yet notified has been told."""
    beta = _editable(key)
    if ActionForm().validate_on_submit():
        session = get_session()
        cohort = services.get_cohort(session, beta, slug)
        waiting = [
            m.account.external_id
            for m in services.members(session, beta, cohort)
            if m.status.value == "active" and m.notified_at is None
        ]
        _apply(
            lambda s: services.mark_notified(s, auth.current_actor(), beta, waiting),
            f"Marked {len(waiting)} member(s) as notified.",
        )
    return redirect(url_for("cohorts.cohort_page", key=key, slug=slug))


MEMBER_ACTIONS = {
    "notify": (
        lambda s, actor, beta, account: services.mark_notified(s, actor, beta, [account]),
        "{account} is marked as notified.",
    ),
    "accept": (
        lambda s, actor, beta, account: services.record_response(s, actor, beta, account, True),
        "{account} accepted the invitation and is active.",
    ),
    "decline": (
        lambda s, actor, beta, account: services.record_response(s, actor, beta, account, False),
        "{account} declined the invitation.",
    ),
    "opt-out": (
        lambda s, actor, beta, account: services.opt_out(s, actor, beta, account),
        "{account} opted out; it stays out of this beta.",
    ),
}


@cohorts.post("/betas/<key>/members/<path:account>/<any(notify, accept, decline, 'opt-out'):act>")
@auth.role_required(*EDITORS)
def member_action(key, account, act):
    """Record a notice, an answer to an invitation, or an opt-out for one member."""
    beta = _editable(key)
    if ActionForm().validate_on_submit():
        change, message = MEMBER_ACTIONS[act]
        _apply(
            lambda s: change(s, auth.current_actor(), beta, account),
            message.format(account=account),
        )
    membership = services.get_membership(get_session(), beta, account)
    if membership is None:
        return redirect(url_for("cohorts.cohort_list", key=key))
    return redirect(url_for("cohorts.cohort_page", key=key, slug=membership.cohort.slug))


@cohorts.post("/betas/<key>/members/<path:account>/move")
@auth.role_required(*EDITORS)
def move_member(key, account):
    """Move a member to another cohort of the same beta."""
    beta = _editable(key)
    session = get_session()
    form = MoveForm()
    form.cohort.choices = _cohort_choices(session, beta)
    if form.validate_on_submit():
        target = services.get_cohort(session, beta, form.cohort.data)
        _apply(
            lambda s: services.place_member(
                s, auth.current_actor(), beta, account, target, form.reason.data or "", _today()
            ),
            f"{account} is now in {target.name}.",
        )
    membership = services.get_membership(session, beta, account)
    slug = membership.cohort.slug if membership else None
    if slug is None:
        return redirect(url_for("cohorts.cohort_list", key=key))
    return redirect(url_for("cohorts.cohort_page", key=key, slug=slug))


@cohorts.get("/betas/<key>/members.csv")
def members_csv(key):
    """Download a beta's members as CSV, for tagging them in the messaging tool."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    rows = services.members_csv(
        services.members(session, beta), current_app.config["SHIPCALL"].zone
    )
    return Response(
        rows,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{beta.key}-members.csv"'},
    )


@cohorts.get("/accounts")
def account_list():
    """List accounts, filtered by id or name."""
    session = get_session()
    q = (request.args.get("q") or "").strip()[:200]
    page = max(1, request.args.get("page", 1, type=int))
    query = select(Account)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Account.external_id.ilike(like), Account.name.ilike(like)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    accounts = session.scalars(
        query.order_by(Account.external_id)
        .limit(ACCOUNTS_PER_PAGE)
        .offset((page - 1) * ACCOUNTS_PER_PAGE)
    ).all()
    return render_template(
        "cohorts/accounts.html",
        accounts=accounts,
        q=q,
        page=page,
        total=total,
        pages=max(1, -(-total // ACCOUNTS_PER_PAGE)),
    )


@cohorts.get("/accounts/<path:external_id>")
def account_page(external_id):
    """Show an account: its attributes, conversations, and every beta it has been in."""
    session = get_session()
    account = services.get_account(session, external_id)
    conversations = session.scalar(
        select(func.count()).where(Conversation.account_id == account.id)
    )
    return render_template(
        "cohorts/account.html",
        account=account,
        history=services.account_history(session, account),
        conversations=conversations,
    )
