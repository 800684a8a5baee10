"""The audit trail: every change says who made it, what it was, and when; and how it reads.

Each action reads as one sentence ("Pat launched the beta"): the wording of every action lives
here, in SENTENCES, with a readable fallback for an action that has none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from betas.models import ApiToken, AuditEntry, Beta, User
from betas.wording import plural

HISTORY_PAGE_SIZE = 50
# Longer values (a problem statement, a reason) are cut to this many characters when shown.
SHOWN_MAX = 80


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or a user through one of their API tokens."""

    user: User
    token: ApiToken | None = None


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    obj: object,
    *,
    beta: Beta | None = None,
    **details,
) -> AuditEntry:
    """Add an audit entry for `action` on `obj`, named by its key, email, external id or slug."""
    names = (getattr(obj, attr, None) for attr in ("key", "email", "external_id", "slug"))
    object_id = next((n for n in names if n), None) or str(obj.id)
    entry = AuditEntry(
        user=actor.user if actor else None,
        token=actor.token if actor else None,
        beta=beta,
        action=action,
        object_type=type(obj).__name__,
        object_id=object_id,
        details=details,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class HistoryPage:
    """One page of a beta's history, newest first, and whether older entries follow."""

    entries: list[AuditEntry]
    page: int
    has_older: bool


def beta_history(
    session: Session, beta: Beta, page: int = 1, per_page: int = HISTORY_PAGE_SIZE
) -> HistoryPage:
    """Return page `page` (from 1) of a beta's audit entries, newest first."""
    page = max(1, page)
    rows = list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.beta_id == beta.id)
            .options(selectinload(AuditEntry.user), selectinload(AuditEntry.token))
            .order_by(AuditEntry.id.desc())
            .limit(per_page + 1)  # one more tells whether there is an older page
            .offset((page - 1) * per_page)
        )
    )
    return HistoryPage(rows[:per_page], page, len(rows) > per_page)


# How an entry reads


def shown(value: object) -> str:
    """Say a recorded value in words, cut to SHOWN_MAX characters."""
    if value is None or value == "" or value == []:
        return "nothing"
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    text = " ".join(text.split())  # a multi-line problem statement reads on one line
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1].rstrip() + "…"


def quoted(value: object) -> str:
    """Say a text someone typed, cut short and in quotes."""
    return f"“{shown(value)}”"


def who(entry: AuditEntry) -> str:
    """Name who acted: the user, through which token; Shipcall itself for the server's own."""
    if entry.user is None:
        return "Shipcall"
    if entry.token is not None:
        return f"{entry.user.display_name} (through the API token {quoted(entry.token.name)})"
    return entry.user.display_name


FIELD_NAMES = {
    "key": "the key",
    "name": "the name",
    "problem": "the problem",
    "learning_goals": "the learning goals",
    "customer_outcome": "the customer outcome",
    "business_outcomes": "the business outcomes",
    "risk": "the risk",
    "owner": "the owner",
    "decision_deadline": "the decision deadline",
    "counts": "what counts",
    "rule": "the rule",
    "duplicate_of": "the item it repeats",
}
TYPED = frozenset(
    {
        "name",
        "problem",
        "learning_goals",
        "customer_outcome",
        "counts",
        "summary",
        "reason",
        "resolution",
    }
)


def _change(field: str, old: object, new: object) -> str:
    what = FIELD_NAMES.get(field, f"the {field.replace('_', ' ')}")
    say = quoted if field in TYPED else shown
    if shown(old) == "nothing":
        return f"set {what} to {say(new)}"
    if shown(new) == "nothing":
        return f"cleared {what} (it was {say(old)})"
    return f"changed {what} from {say(old)} to {say(new)}"


def _in_a_row(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _because(details: dict) -> str:
    reason = details.get("reason")
    return f": {shown(reason)}" if reason else ""


def _updated(entry: AuditEntry, d: dict) -> str:
    changes = d.get("changes") or {}
    if not changes:
        return f"{who(entry)} changed the framing"
    parts = [_change(field, *old_new) for field, old_new in changes.items()]
    return f"{who(entry)} {_in_a_row(parts)}"


def _launched(entry: AuditEntry, d: dict) -> str:
    deadline = d.get("deadline")
    return f"{who(entry)} launched the beta" + (f", to decide by {deadline}" if deadline else "")


def _enrolled(entry: AuditEntry, d: dict) -> str:
    cohort = shown(d.get("cohort"))
    if d.get("status") == "invited":
        return f"{who(entry)} invited {entry.object_id} to {cohort}{_because(d)}"
    return f"{who(entry)} enrolled {entry.object_id} in {cohort}{_because(d)}"


def _sampled(entry: AuditEntry, d: dict) -> str:
    size = plural(int(d.get("size") or 0), "account")
    pool = plural(int(d.get("pool_size") or 0), "account")
    return (
        f"{who(entry)} drew a random sample of {size} for {entry.object_id} from a pool of "
        f"{pool} (seed {shown(d.get('seed'))})"
    )


def _token_created(entry: AuditEntry, d: dict) -> str:
    return (
        f"{who(entry)} created the API token {quoted(d.get('name'))}, acting as "
        f"{shown(d.get('user'))} with {shown(d.get('scopes'))}"
    )


def _feedback_kind(d: dict) -> str:
    return f" ({shown(d.get('type')).replace('_', ' ')})" if d.get("type") else ""


def _feedback_changes(d: dict) -> str:
    parts = [_change(field, *old_new) for field, old_new in (d.get("changes") or {}).items()]
    return _in_a_row(parts) if parts else "changed it"


def _feedback_logged(entry: AuditEntry, d: dict) -> str:
    return (
        f"{who(entry)} logged feedback item {entry.object_id}{_feedback_kind(d)} from "
        f"{shown(d.get('account'))}, by {shown(d.get('source')).replace('_', ' ')}"
    )


def _feedback_changed(entry: AuditEntry, d: dict) -> str:
    return f"{who(entry)} {_feedback_changes(d)} on feedback item {entry.object_id}"


def _feedback_logged_in_sheet(entry: AuditEntry, d: dict) -> str:
    return (
        f"Someone added feedback item {entry.object_id}{_feedback_kind(d)} from "
        f"{shown(d.get('account'))} as a row of the spreadsheet"
    )


def _feedback_changed_in_sheet(entry: AuditEntry, d: dict) -> str:
    return f"Someone {_feedback_changes(d)} on feedback item {entry.object_id}, in the spreadsheet"


def _decided(entry: AuditEntry, d: dict) -> str:
    call = "ship" if d.get("outcome") == "ship" else "no-ship"
    waived = int(d.get("waivers") or 0)
    return f"{who(entry)} decided: {call}" + (
        f", waiving {plural(waived, 'item')}" if waived else ""
    )


Sentence = Callable[[AuditEntry, dict], str]
# How each kind of deadline reminder reads in the history (betas.models.ReminderKind's values).
REMINDED = {
    "week_before": "is due in 7 days",
    "day_before": "is due tomorrow",
    "overdue": "is overdue",
}

SENTENCES: dict[str, Sentence] = {
    "beta.created": lambda e, d: f"{who(e)} framed the beta {quoted(d.get('name'))} as a draft",
    "beta.updated": _updated,
    "beta.launched": _launched,
    "beta.extended": lambda e, d: (
        f"{who(e)} extended the deadline from {shown(d.get('old'))} to {shown(d.get('new'))}"
        f"{_because(d)}"
    ),
    "beta.reminded": lambda e, d: (
        f"{who(e)} reminded {shown(d.get('to'))} by email that the decision "
        + REMINDED.get(d.get("kind"), "is due")
    ),
    "beta.decided": _decided,
    "beta.reopened": lambda e, d: (
        f"{who(e)} reopened the beta, setting its "
        f"{'ship' if d.get('outcome') == 'ship' else 'no-ship'} decision aside{_because(d)}"
    ),
    "beta.ship_message_set": lambda e, d: (
        f"{who(e)} set the message for those who asked: {quoted(d.get('message'))}"
    ),
    "beta.requesters_told": lambda e, d: (
        f"{who(e)} marked {plural(len(d.get('accounts') or []), 'account')} as told that it "
        f"shipped: {shown(', '.join(d.get('accounts') or []))}"
    ),
    "checkpoint.reminded": lambda e, d: (
        f"{who(e)} reminded {shown(d.get('to'))} by email that the "
        f"{shown(d.get('months'))}-month outcome checkpoint is due"
    ),
    "checkpoint.reported": lambda e, d: (
        f"{who(e)} reported the {shown(d.get('months'))}-month outcome checkpoint, with "
        f"{plural(int(d.get('actions') or 0), 'action')}"
    ),
    "beta.deleted": lambda e, d: (
        f"{who(e)} deleted the draft beta {e.object_id} ({quoted(d.get('name'))})"
    ),
    "metric.added": lambda e, d: (
        f"{who(e)} added the metric {quoted(d.get('name'))}: {shown(d.get('target'))}"
    ),
    "metric.updated": lambda e, d: (
        f"{who(e)} changed the metric {quoted(d.get('name'))}: "
        + _in_a_row([_change(f, *old_new) for f, old_new in (d.get("changes") or {}).items()])
        if d.get("changes")
        else f"{who(e)} changed the metric {quoted(d.get('name'))}"
    ),
    "metric.removed": lambda e, d: f"{who(e)} removed the metric {quoted(d.get('name'))}",
    "cohort.created": lambda e, d: (
        f"{who(e)} added the cohort {e.object_id} ({shown(d.get('kind')).replace('_', ' ')})"
    ),
    "cohort.sampled": _sampled,
    "problem_search.saved": lambda e, d: (
        f"{who(e)} saved the problem search {quoted(d.get('query'))}"
    ),
    "member.enrolled": _enrolled,
    "member.readded_after_opt_out": lambda e, d: (
        f"{who(e)} added {e.object_id} back to {shown(d.get('cohort'))} after it had opted out"
        f"{_because(d)}"
    ),
    "member.moved": lambda e, d: (
        f"{who(e)} moved {e.object_id} from {shown(d.get('old'))} to {shown(d.get('new'))}"
        f"{_because(d)}"
    ),
    "member.opted_out": lambda e, d: f"{who(e)} opted out {e.object_id}{_because(d)}",
    "member.notified": lambda e, d: f"{who(e)} marked {e.object_id} as notified",
    "member.accepted": lambda e, d: f"{who(e)} recorded that {e.object_id} accepted the invitation",
    "member.declined": lambda e, d: f"{who(e)} recorded that {e.object_id} declined the invitation",
    "user.created": lambda e, d: f"{who(e)} added the user {e.object_id} as {shown(d.get('role'))}",
    "user.role_changed": lambda e, d: (
        f"{who(e)} changed the role of {e.object_id} from {shown(d.get('old'))} to "
        f"{shown(d.get('new'))}"
    ),
    "user.activated": lambda e, d: f"{who(e)} reactivated {e.object_id}",
    "user.deactivated": lambda e, d: f"{who(e)} deactivated {e.object_id}",
    "token.created": _token_created,
    "feedback.logged": _feedback_logged,
    "feedback.changed": _feedback_changed,
    "feedback.resolved": _feedback_changed,
    "beta.message_changed": lambda e, d: (
        f"{who(e)} set the beta's message back to the one drawn from the framing"
        if d.get("drawn")
        else f"{who(e)} rewrote the beta's message"
    ),
    "call.created": lambda e, d: (
        f"{who(e)} planned call {e.object_id} with {shown(d.get('account'))} for "
        f"{shown(d.get('held_at'))}"
    ),
    "call.changed": lambda e, d: (
        f"{who(e)} changed call {e.object_id} with {shown(d.get('account'))}: "
        + ", ".join(f.replace("_", " ") for f in d.get("fields") or [])
    ),
    "ask.recorded": lambda e, d: (
        f"{who(e)} asked {plural(len(d.get('accounts') or []), 'account')} for feedback by "
        f"{shown(d.get('channel'))}"
        + (
            f" ({plural(len(d['cooldown']), 'account')} left out: asked too recently)"
            if d.get("cooldown")
            else ""
        )
    ),
    "feedback.logged_in_sheet": _feedback_logged_in_sheet,
    "feedback.changed_in_sheet": _feedback_changed_in_sheet,
    "feedback.conflict_settled": lambda e, d: (
        f"{who(e)} settled a spreadsheet conflict on feedback item {e.object_id}: "
        f"{shown(d.get('field'))} is {quoted(d.get('value'))} (kept from {shown(d.get('side'))})"
    ),
    "feedback.row_restored": lambda e, d: (
        f"{who(e)} restored the row of feedback item {e.object_id} to the spreadsheet"
    ),
    "sheet.linked": lambda e, d: (
        f"{who(e)} linked the feedback spreadsheet {shown(d.get('spreadsheet'))} "
        f"(worksheet {quoted(d.get('worksheet'))})"
    ),
    "feedback.imported": lambda e, d: (
        f"{who(e)} imported {plural(d.get('items') or 0, 'feedback item')}"
        + (f" from {quoted(d.get('file'))}" if d.get("file") else "")
    ),
    "token.revoked": lambda e, d: f"{who(e)} revoked the API token {quoted(d.get('name'))}",
}


def _unknown(entry: AuditEntry, details: dict) -> str:
    what = entry.action.replace(".", " ").replace("_", " ")
    said = "; ".join(f"{k.replace('_', ' ')}: {shown(v)}" for k, v in sorted(details.items()))
    return f"{who(entry)}: {what}, on {entry.object_id}" + (f" ({said})" if said else "")


def describe(entry: AuditEntry) -> str:
    """Say an audit entry as a sentence, e.g. 'Pat opted out acme-42'."""
    return SENTENCES.get(entry.action, _unknown)(entry, entry.details or {})
