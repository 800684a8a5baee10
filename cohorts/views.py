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
from betas.db import get_session, read_only
from betas.errors import DomainError
from betas.forms import ActionForm, show_refusal
from betas.models import Beta
from betas.views import EDITORS, configured_today, editable_beta
from cohorts import finder, importers, sampling, services
from cohorts.forms import (
    AddMembersForm,
    CohortForm,
    EnrollAdoptersForm,
    FinderSearchForm,
    ImportFileForm,
    ImportMappingForm,
    MoveForm,
    ProblemSearchForm,
    SampleForm,
    format_filters,
)
from cohorts.models import Account, Cohort, CohortKind, Conversation

cohorts = Blueprint("cohorts", __name__)
ACCOUNTS_PER_PAGE = 50


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

UPLOAD_MAX_BYTES = 512 * 1024 * 1024
PREVIEW_RECORDS = 10


@cohorts.url_value_preprocessor
def _allow_large_uploads(endpoint, _values):
    """Let PMs and admins upload files of up to 512 MB; every other request keeps its 1 MB.

    CSRFProtect reads the form in a before_request function, and Flask runs URL value
    preprocessors before any of those: the last moment to raise this request's limit.
    """
    if (
        endpoint == "cohorts.upload"
        and current_user.is_authenticated
        and current_user.role in EDITORS
    ):
        request.max_content_length = UPLOAD_MAX_BYTES


@cohorts.errorhandler(importers.UploadGone)
def _upload_gone(exc: importers.UploadGone):
    """Ask for the file again when its upload is not kept any more."""
    flash(exc.message, "error")
    return redirect(url_for("cohorts.upload"))


def _uploads() -> importers.Uploads:
    """Return the uploads kept in this app's instance folder."""
    return importers.Uploads.in_instance(current_app.instance_path)


@cohorts.route("/imports", methods=["GET", "POST"])
@auth.role_required(*EDITORS)
def upload():
    """Upload a CSV or JSON Lines file of accounts or conversations; then map and preview it."""
    form = ImportFileForm()
    if form.validate_on_submit():
        kind = importers.Kind(form.kind.data)
        upload_id = _uploads().save(form.file.data.stream)
        return _show_mapping(ImportMappingForm(formdata=None, upload=upload_id, kind=kind), kind)
    return render_template("cohorts/import.html", form=form), (422 if form.errors else 200)


def _mapping_form() -> tuple[ImportMappingForm, importers.Kind]:
    """Return the posted mapping form and its kind; 400 when it was tampered with."""
    form = ImportMappingForm()
    if form.kind.data not in set(importers.Kind):
        abort(400)
    kind = importers.Kind(form.kind.data)
    form.offer_fields(kind)
    if not form.validate_on_submit():
        abort(400)
    return form, kind


def _show_mapping(
    form: ImportMappingForm,
    kind: importers.Kind,
    failure: importers.ImportFailed | None = None,
):
    """Render the upload's columns with their fields, and its first records as they would be."""
    with _uploads().open(form.upload.data) as stream:
        shown = importers.preview(stream, kind, form.chosen(), PREVIEW_RECORDS)
    if not form.columns.entries:
        for column, name in shown.mapping.items():
            form.columns.append_entry({"column": column, "maps_to": name})
        form.offer_fields(kind)
    return render_template(
        "cohorts/import.html", mapping_form=form, kind=kind, preview=shown, failure=failure
    ), (422 if failure else 200)


@cohorts.post("/imports/preview")
@auth.role_required(*EDITORS)
def preview_import():
    """Show the upload again with the fields chosen for its columns."""
    return _show_mapping(*_mapping_form())


@cohorts.post("/imports/run")
@auth.role_required(*EDITORS)
def run_import():
    """Import the upload as mapped, all or nothing: say what changed, or list what is wrong."""
    form, kind = _mapping_form()
    session = get_session()
    uploads = _uploads()
    try:
        with uploads.open(form.upload.data) as stream:
            result = importers.import_file(session, stream, kind, form.chosen())
    except importers.ImportFailed as exc:
        session.rollback()
        return _show_mapping(form, kind, exc)
    except importers.ImportClashed as exc:
        session.rollback()
        flash(exc.message, "error")
        return _show_mapping(form, kind)
    session.commit()
    uploads.remove(form.upload.data)
    flash(f"Imported {kind.value}: {result}.", "success")
    return redirect(url_for("cohorts.upload"))


# --- Finder: search customer conversations, enroll, save problem searches ------------------------

NAMES_SHOWN = 10


def _zone():
    return current_app.config["SHIPCALL"].zone


def _enroll_form(beta: Beta) -> EnrollAdoptersForm:
    """Return the enroll form, offering the beta's early-adopter cohorts and a new one."""
    form = EnrollAdoptersForm()
    early = [
        c for c in services.list_cohorts(get_session(), beta) if c.kind == CohortKind.EARLY_ADOPTERS
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
                    zone=_zone(),
                )
            except DomainError as exc:
                show_refusal(search_form, exc)
        if result is None:
            status = 400
    try:
        services.check_open(beta, configured_today())
        closed = ""
    except DomainError as exc:
        closed = exc.message
    return render_template(
        "cohorts/finder.html",
        beta=beta,
        search=search_form,
        result=result,
        enroll=enroll_form or _enroll_form(beta),
        save_form=ProblemSearchForm(query=search_form.query.data),
        closed=closed,
        problem_searches=finder.list_problem_searches(session, beta),
    ), status


@cohorts.get("/betas/<key>/finder")
def finder_page(key):
    """Search what customers wrote for the accounts that asked; list the saved problem searches."""
    beta = lifecycle.get_beta(get_session(), key)
    return _render_finder(beta, FinderSearchForm(formdata=request.args))


def _names(accounts: list[str]) -> str:
    more = len(accounts) - NAMES_SHOWN
    return ", ".join(accounts[:NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _flash_enrollment(cohort: Cohort, enrollment: services.Enrollment) -> None:
    """Say who joined the cohort and, reason by reason, who was skipped."""
    if enrollment.enrolled:
        flash(
            f"Enrolled {len(enrollment.enrolled)} account(s) in {cohort.name}: "
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


@cohorts.post("/betas/<key>/finder/enroll")
@auth.role_required(*EDITORS)
def finder_enroll(key):
    """Enroll the ticked accounts, or the top ones, in an early-adopter cohort, citing evidence."""
    beta = editable_beta(key)
    session = get_session()
    search_form = FinderSearchForm(formdata=request.form)
    form = _enroll_form(beta)
    if search_form.validate() & form.validate_on_submit():
        by_top = bool(form.enroll_top.data)
        try:
            cohort, enrollment = finder.enroll_adopters(
                session,
                auth.current_actor(),
                beta,
                search_form.criteria(),
                today=configured_today(),
                cohort_slug=form.cohort.data or None,
                new_cohort=None if form.cohort.data else form.new_cohort.data,
                accounts=None if by_top else form.accounts.data,
                top=form.top.data if by_top else None,
                zone=_zone(),
            )
        except DomainError as exc:
            session.rollback()
            show_refusal(form, exc)
        else:
            session.commit()
            _flash_enrollment(cohort, enrollment)
            return redirect(url_for("cohorts.finder_page", key=beta.key, **search_form.args()))
    else:
        # The form sits below the results, out of sight: say at the top why nothing happened.
        errors = [e for field in (*search_form, *form) for e in field.errors]
        flash(f"Nothing was enrolled: {errors[0] if errors else 'see the form below.'}", "error")
    page, _status = _render_finder(beta, search_form, form)
    return page, 422


@cohorts.post("/betas/<key>/finder/problem-searches")
@auth.role_required(*EDITORS)
def finder_save_search(key):
    """Save the search on the beta as a problem search."""
    beta = editable_beta(key)
    form = ProblemSearchForm()
    if form.validate_on_submit():
        _apply(
            lambda session: finder.save_problem_search(
                session, auth.current_actor(), beta, form.query.data
            ),
            "Saved as a problem search: random samples will leave out the accounts matching it.",
        )
    else:
        flash("Search first, then save the search.", "error")
    return redirect(url_for("cohorts.finder_page", key=beta.key, query=form.query.data or None))


# --- Random sample: preview and draw -----------------------------------------------------------

FIRST_SHOWN = 20


def _sample_form(session, beta: Beta, cohort) -> SampleForm:
    """Return the sample form; a new one continues the cohort: its seed, its latest draw's pool."""
    form = SampleForm()
    if not form.is_submitted():
        latest = sampling.last_draw(cohort) or {}
        in_cohort = sum(services.cohort_counts(session, beta).get(cohort.id, {}).values())
        if cohort.planned_size and cohort.planned_size > in_cohort:
            form.size.data = cohort.planned_size - in_cohort
        form.seed.data = cohort.criteria.get("seed")
        form.filters.data = format_filters(latest.get("filters", {}))
        form.stratify_by.data = latest.get("stratify_by")
        form.exclude_other_betas.data = latest.get("exclusions", {}).get("other_running_betas")
        form.mix_by.data = latest.get("stratify_by")
    return form


def _render_sample(beta: Beta, cohort, form: SampleForm, sample=None, status=200):
    try:
        services.check_open(beta, configured_today())
        closed = ""
    except DomainError as exc:
        closed = exc.message
    return render_template(
        "cohorts/sample.html",
        beta=beta,
        cohort=cohort,
        form=form,
        sample=sample,
        first=sample.accounts[:FIRST_SHOWN] if sample else [],
        draws=cohort.criteria.get("draws", []),
        closed=closed,
    ), status


@cohorts.route("/betas/<key>/cohorts/<slug>/sample", methods=["GET", "POST"])
@read_only
def sample_page(key, slug):
    """Show the random-sample form; preview a draw: pool, sample, mix and first accounts."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    cohort = services.get_cohort(session, beta, slug)
    form = _sample_form(session, beta, cohort)
    if not form.is_submitted():
        return _render_sample(beta, cohort, form)
    if not auth.can_edit(current_user, beta):
        abort(403)
    if not form.validate():
        return _render_sample(beta, cohort, form, status=422)
    try:
        sample = sampling.draw_sample(
            session,
            auth.current_actor(),
            beta,
            cohort,
            form.spec(),
            configured_today(),
            dry_run=True,
            mix_by=form.mix_attribute(),
        )
    except DomainError as exc:
        session.rollback()
        show_refusal(form, exc)
        return _render_sample(beta, cohort, form, status=exc.status)
    return _render_sample(beta, cohort, form, sample)


@cohorts.post("/betas/<key>/cohorts/<slug>/sample/draw")
@auth.role_required(*EDITORS)
def sample_draw(key, slug):
    """Draw the previewed sample and enroll it; back to the cohort, saying how many joined."""
    beta = editable_beta(key)
    session = get_session()
    cohort = services.get_cohort(session, beta, slug)
    form = SampleForm()
    if not form.validate():
        return _render_sample(beta, cohort, form, status=422)
    try:
        sample = sampling.draw_sample(
            session, auth.current_actor(), beta, cohort, form.spec(), configured_today()
        )
    except DomainError as exc:
        session.rollback()
        show_refusal(form, exc)
        return _render_sample(beta, cohort, form, status=exc.status)
    session.commit()
    flash(
        f"Enrolled {len(sample.enrollment.enrolled)} account(s) drawn at random from a pool of "
        f"{sample.pool_size:,} (seed {sample.seed}).",
        "success",
    )
    for skipped in sample.enrollment.skipped:
        flash(f"Skipped {skipped['account']}: {skipped['reason']}.", "info")
    return redirect(url_for("cohorts.cohort_page", key=key, slug=slug))


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
                    today=configured_today(),
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
    beta = editable_beta(key)
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
            configured_today(),
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
    beta = editable_beta(key)
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
    beta = editable_beta(key)
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
    beta = editable_beta(key)
    session = get_session()
    form = MoveForm()
    form.cohort.choices = _cohort_choices(session, beta)
    if form.validate_on_submit():
        target = services.get_cohort(session, beta, form.cohort.data)
        _apply(
            lambda s: services.place_member(
                s,
                auth.current_actor(),
                beta,
                account,
                target,
                form.reason.data or "",
                configured_today(),
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
