"""Deadline reminders, sent to a real SMTP server on 127.0.0.1: the days, once a day, the zone."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from betas import lifecycle, reminders
from betas.audit import Actor, beta_history, describe
from betas.models import BetaState, ReminderKind, ReminderSent
from tests.helpers import free_port

TODAY = date(2026, 12, 1)


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


def sent_rows(db) -> list[tuple]:
    db.expire_all()
    return list(
        db.execute(
            select(ReminderSent.beta_id, ReminderSent.day, ReminderSent.kind)
            .where(ReminderSent.sent_at.is_not(None))
            .order_by(ReminderSent.day, ReminderSent.beta_id)
        )
    )


def claims(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(ReminderSent))


@pytest.mark.parametrize(
    ("left", "kind"),
    [
        (9, None),
        (8, None),
        (7, ReminderKind.WEEK_BEFORE),
        (6, None),
        (2, None),
        (1, ReminderKind.DAY_BEFORE),
        (0, None),
        (-1, ReminderKind.OVERDUE),
        (-30, ReminderKind.OVERDUE),
    ],
)
def test_the_days_a_running_beta_is_reminded(make_beta, left, kind):
    beta = make_beta(state=BetaState.RUNNING, deadline=days(left))
    assert reminders.kind_due(beta, TODAY) == kind


@pytest.mark.parametrize("state", [BetaState.DRAFT, BetaState.DECIDED])
def test_drafts_and_decided_betas_are_never_reminded(make_beta, state):
    for left in (7, 1, -1):
        assert reminders.kind_due(make_beta(state=state, deadline=days(left)), TODAY) is None


def test_each_owner_gets_the_reminder_due_with_the_reviews_link(
    db, make_beta, make_user, smtp_server, settings
):
    inbox = smtp_server()
    week = make_beta(key="week", state=BetaState.RUNNING, deadline=days(7))
    tomorrow = make_beta(key="tomorrow", state=BetaState.RUNNING, deadline=days(1))
    late = make_beta(key="late", state=BetaState.RUNNING, deadline=days(-3))
    for key, left in (("today", 0), ("two", 2), ("eight", 8), ("six", 6)):
        make_beta(key=key, state=BetaState.RUNNING, deadline=days(left))
    make_beta(key="draft", deadline=days(7))
    make_beta(key="decided", state=BetaState.DECIDED, deadline=days(-3))

    report = reminders.send_due(
        db, settings(smtp_url=inbox.url, mail_from="ship@example.com"), TODAY
    )

    assert [r.beta_key for r in report.sent] == ["late", "tomorrow", "week"]
    assert report.failed == [] and report.would_send == []
    got = {m["To"]: m for m in inbox.messages}
    assert set(got) == {week.owner.email, tomorrow.owner.email, late.owner.email}
    assert {m["From"] for m in inbox.messages} == {"ship@example.com"}
    assert got[week.owner.email]["Subject"] == f"Inbox reports: decide by {days(7)} (7 days left)"
    assert got[tomorrow.owner.email]["Subject"] == (
        f"Inbox reports: the decision is due tomorrow ({days(1)})"
    )
    assert got[late.owner.email]["Subject"] == "Inbox reports: the decision is 3 days overdue"
    body = got[late.owner.email].get_content()
    assert body.startswith(f"Hello {late.owner.display_name},\n")
    assert "https://shipcall.example.com/betas/late/review" in body
    assert "takes no new members, samples or cohorts" in " ".join(body.split())
    assert "2 of 2 left" in body
    # Lines of plain text, at most 72 characters; the link on its own line, whole.
    assert "\n    https://shipcall.example.com/betas/late/review\n" in body
    assert max(len(line) for line in body.splitlines()) <= 72
    for beta, said in ((week, "is due in 7 days"), (tomorrow, "is due tomorrow")):
        [entry] = beta_history(db, beta).entries
        assert describe(entry) == (
            f"Shipcall reminded {beta.owner.email} by email that the decision {said}"
        )
    assert set(sent_rows(db)) == {
        (late.id, TODAY, ReminderKind.OVERDUE),
        (tomorrow.id, TODAY, ReminderKind.DAY_BEFORE),
        (week.id, TODAY, ReminderKind.WEEK_BEFORE),
    }


def test_the_beta_name_is_sent_as_typed_never_escaped(db, make_beta, smtp_server, settings):
    inbox = smtp_server()
    make_beta(name='Reports <b>&</b> "alerts"', state=BetaState.RUNNING, deadline=days(1))
    reminders.send_due(db, settings(smtp_url=inbox.url), TODAY)
    [message] = inbox.messages
    assert message.get_content_type() == "text/plain"
    assert message["Subject"].startswith('Reports <b>&</b> "alerts": the decision')
    said = " ".join(message.get_content().split())
    assert 'The decision deadline of Reports <b>&</b> "alerts" is tomorrow' in said
    assert "&amp;" not in message.get_content() and "&lt;" not in message.get_content()


def test_exactly_one_a_day_per_beta_however_often_it_runs(db, make_beta, smtp_server, settings):
    inbox = smtp_server()
    beta = make_beta(state=BetaState.RUNNING, deadline=days(-1))
    with_smtp = settings(smtp_url=inbox.url)
    for _run in range(3):
        reminders.send_due(db, with_smtp, TODAY)
    assert len(inbox.messages) == 1
    for _run in range(2):
        reminders.send_due(db, with_smtp, days(1))
    assert len(inbox.messages) == 2
    assert inbox.messages[1]["Subject"] == "Inbox reports: the decision is 2 days overdue"
    assert [day for _id, day, _kind in sent_rows(db)] == [TODAY, days(1)]
    assert {beta_id for beta_id, _day, _kind in sent_rows(db)} == {beta.id}
    assert [describe(e) for e in beta_history(db, beta).entries] == [
        f"Shipcall reminded {beta.owner.email} by email that the decision is overdue"
    ] * 2


def test_a_reminder_another_run_claimed_is_not_sent_again(db, make_beta, smtp_server, settings):
    inbox = smtp_server()
    beta = make_beta(state=BetaState.RUNNING, deadline=days(1))
    with_smtp = settings(smtp_url=inbox.url)
    due = reminders.due(db, with_smtp, TODAY)
    # Another run claims the same reminder between this run's reading and its claiming.
    db.add(ReminderSent(beta=beta, day=TODAY, kind=ReminderKind.DAY_BEFORE, recipient="x@y.z"))
    db.flush()
    assert reminders.claim(db, due, TODAY) == []
    assert reminders.send_due(db, with_smtp, TODAY).sent == []
    assert inbox.messages == [] and claims(db) == 1


@pytest.mark.parametrize(("minutes_ago", "sent"), [(2, 0), (16, 1)])
def test_a_claim_left_unsent_by_a_run_that_died_is_taken_over_once_stale(
    db, make_beta, smtp_server, settings, minutes_ago, sent
):
    inbox = smtp_server()
    beta = make_beta(state=BetaState.RUNNING, deadline=days(1))
    claimed_at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    db.add(
        ReminderSent(
            beta=beta,
            day=TODAY,
            kind=ReminderKind.DAY_BEFORE,
            recipient=beta.owner.email,
            claimed_at=claimed_at,
        )
    )
    db.flush()
    with_smtp = settings(smtp_url=inbox.url)
    assert len(reminders.send_due(db, with_smtp, TODAY).sent) == sent
    assert len(reminders.send_due(db, with_smtp, TODAY).sent) == 0
    assert len(inbox.messages) == sent and claims(db) == 1


def test_none_after_a_decision(db, make_beta, smtp_server, settings):
    inbox = smtp_server()
    beta = make_beta(state=BetaState.RUNNING, deadline=days(-1))
    with_smtp = settings(smtp_url=inbox.url)
    reminders.send_due(db, with_smtp, TODAY)
    beta.state = BetaState.DECIDED
    db.flush()
    for later in (1, 2, 10):
        assert reminders.send_due(db, with_smtp, days(later)).sent == []
    assert len(inbox.messages) == 1


def test_an_extension_moves_the_reminder_days(db, make_beta, smtp_server, settings):
    inbox = smtp_server()
    beta = make_beta(state=BetaState.RUNNING, deadline=days(-2))
    lifecycle.extend(
        db,
        Actor(beta.owner),
        beta,
        new_deadline=days(7),
        reason="Two calls left",
        today=TODAY,
        max_extensions=2,
        max_days=30,
    )
    reminders.send_due(db, settings(smtp_url=inbox.url), TODAY)
    [message] = inbox.messages
    assert "7 days left" in message["Subject"] and "1 of 2 left" in message.get_content()


def test_the_day_is_the_configured_zones(db, make_beta, smtp_server, settings):
    inbox = smtp_server()
    # 11:30 on 1 December in UTC is already 00:30 on 2 December in Auckland.
    now = datetime(2026, 12, 1, 11, 30, tzinfo=UTC)
    beta = make_beta(state=BetaState.RUNNING, deadline=date(2026, 12, 3))
    in_utc = settings(smtp_url=inbox.url)
    in_auckland = settings(smtp_url=inbox.url, timezone="Pacific/Auckland")

    assert reminders.send_due(db, in_utc, lifecycle.today_in(in_utc.zone, now)).sent == []
    auckland_today = lifecycle.today_in(in_auckland.zone, now)
    assert auckland_today == date(2026, 12, 2)
    [sent] = reminders.send_due(db, in_auckland, auckland_today).sent
    assert sent.kind == ReminderKind.DAY_BEFORE
    assert sent_rows(db) == [(beta.id, date(2026, 12, 2), ReminderKind.DAY_BEFORE)]
    # Later the same Auckland day (still 1 December in UTC), nothing more goes out.
    evening = lifecycle.today_in(
        ZoneInfo("Pacific/Auckland"), datetime(2026, 12, 2, 10, 59, tzinfo=UTC)
    )
    assert evening == date(2026, 12, 2)
    assert reminders.send_due(db, in_auckland, evening).sent == []
    assert len(inbox.messages) == 1


def test_without_smtp_nothing_is_sent_or_recorded(db, make_beta, settings):
    make_beta(key="late", state=BetaState.RUNNING, deadline=days(-1))
    report = reminders.send_due(db, settings(smtp_url=""), TODAY)
    assert [r.beta_key for r in report.would_send] == ["late"]
    assert report.sent == [] and claims(db) == 0


def test_a_failed_send_is_reported_and_tried_again_next_run(db, make_beta, smtp_server, settings):
    make_beta(key="late", state=BetaState.RUNNING, deadline=days(-1))
    port = free_port()
    down = settings(smtp_url=f"smtp://127.0.0.1:{port}")
    report = reminders.send_due(db, down, TODAY)
    [(reminder, why)] = report.failed
    assert reminder.beta_key == "late" and report.sent == []
    assert why.startswith(f"Could not reach the mail server 127.0.0.1:{port}")
    assert claims(db) == 0
    inbox = smtp_server()
    assert [
        r.beta_key for r in reminders.send_due(db, settings(smtp_url=inbox.url), TODAY).sent
    ] == ["late"]
    assert len(inbox.messages) == 1 and len(sent_rows(db)) == 1
