"""Reminders of due outcome checkpoints, sent to a real SMTP server on 127.0.0.1: once each."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from betas import checkpoints, decisions, lifecycle, reminders
from betas.audit import Actor, beta_history, describe
from betas.models import BetaState, ReminderKind, ReminderSent, Role

SHIPPED_ON = date(2026, 11, 1)
MONTH_DUE = date(2026, 12, 1)  # the 1-month checkpoint of a ship on SHIPPED_ON
ANSWERS = {"solved": "Yes.", "replaces_existing": "The CSV export.", "marketing": "No."}


@pytest.fixture
def shipped(db, make_beta):
    """Ship a running beta at 15:00 UTC on a day (its checkpoints due 1, 3, 6, 12 months on)."""

    def ship(on=SHIPPED_ON, **values):
        beta = make_beta(state=BetaState.RUNNING, deadline=on, **values)
        decision = decisions.decide(
            db,
            Actor(beta.owner),
            beta,
            outcome="ship",
            rationale="They use it.",
            answers=ANSWERS,
            snapshot={},
            today=on,
        )
        decision.created_at = datetime.combine(on, time(15), UTC)
        db.flush()
        return beta, decision

    return ship


def rows(db) -> list[tuple]:
    db.expire_all()
    return list(
        db.execute(
            select(ReminderSent.checkpoint_id, ReminderSent.day, ReminderSent.kind)
            .where(ReminderSent.sent_at.is_not(None))
            .order_by(ReminderSent.id)
        )
    )


def claims(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(ReminderSent))


def test_a_due_checkpoint_mails_its_owner_once_with_the_checkpoints_link(
    db, shipped, smtp_server, settings
):
    inbox = smtp_server()
    beta, decision = shipped(name='Reports <b>&</b> "alerts"')
    month = decision.checkpoints[0]

    report = reminders.send_due(
        db, settings(smtp_url=inbox.url, mail_from="ship@example.com"), MONTH_DUE
    )

    [sent] = report.sent
    assert (sent.beta_key, sent.kind, sent.checkpoint_id) == (
        beta.key,
        ReminderKind.CHECKPOINT,
        month.id,
    )
    [message] = inbox.messages
    assert (message["To"], message["From"]) == (beta.owner.email, "ship@example.com")
    assert message.get_content_type() == "text/plain"
    assert message["Subject"] == 'Reports <b>&</b> "alerts": the 1-month outcome checkpoint is due'
    body = message.get_content()
    link = f"https://shipcall.example.com/betas/{beta.key}/checkpoints/{month.id}"
    assert f"\n    {link}\n" in body
    said = " ".join(body.split())
    assert said.startswith(f"Hello {beta.owner.display_name}, ")
    assert (
        'Reports <b>&</b> "alerts" shipped on 2026-11-01; its 1-month outcome checkpoint is due '
        "today." in said
    )
    assert "Have we sufficiently solved the problem for most target customers?" in said
    assert "What actions follow, each with an owner and a due date?" in said
    assert "&amp;" not in body and "&lt;" not in body
    assert max(len(line) for line in body.splitlines()) <= reminders.WIDTH
    assert rows(db) == [(month.id, MONTH_DUE, ReminderKind.CHECKPOINT)]
    assert describe(beta_history(db, beta).entries[0]) == (
        f"Shipcall reminded {beta.owner.email} by email that the 1-month outcome checkpoint is due"
    )


def test_a_checkpoint_not_due_yet_sends_nothing(db, shipped, smtp_server, settings):
    inbox = smtp_server()
    shipped()
    report = reminders.send_due(db, settings(smtp_url=inbox.url), MONTH_DUE - timedelta(days=1))
    assert report.sent == report.would_send == [] and inbox.messages == []
    assert claims(db) == 0


def test_repeated_runs_send_each_checkpoint_once_on_whichever_day(
    db, shipped, smtp_server, settings
):
    inbox = smtp_server()
    beta, decision = shipped()
    month, quarter, *_ = decision.checkpoints
    with_smtp = settings(smtp_url=inbox.url)
    for day in (MONTH_DUE, MONTH_DUE, MONTH_DUE + timedelta(days=1), date(2027, 1, 15)):
        reminders.send_due(db, with_smtp, day)
    assert len(inbox.messages) == 1
    # The 3-month checkpoint comes due on 1 February, the 1-month one reported or not: one more.
    for _run in range(3):
        reminders.send_due(db, with_smtp, quarter.due_on)
    assert [m["Subject"].split(": ")[1] for m in inbox.messages] == [
        "the 1-month outcome checkpoint is due",
        "the 3-month outcome checkpoint is due",
    ]
    assert [checkpoint_id for checkpoint_id, _day, _kind in rows(db)] == [month.id, quarter.id]
    actions = [e.action for e in beta_history(db, beta).entries]
    assert actions == ["checkpoint.reminded", "checkpoint.reminded", "beta.decided"]


def test_a_checkpoint_found_late_says_when_it_was_due(db, shipped, smtp_server, settings):
    inbox = smtp_server()
    shipped()
    reminders.send_due(db, settings(smtp_url=inbox.url), date(2026, 12, 20))
    [message] = inbox.messages
    assert "its 1-month outcome checkpoint was due on 2026-12-01." in " ".join(
        message.get_content().split()
    )


def test_none_once_the_report_is_taken(db, shipped, smtp_server, settings):
    inbox = smtp_server()
    beta, decision = shipped()
    checkpoints.report(
        db,
        Actor(beta.owner),
        beta,
        decision.checkpoints[0],
        solved="Mostly.",
        outcomes="Retention is up.",
        actions=[],
        measured=[],
        today=MONTH_DUE,
    )
    db.flush()
    for day in (MONTH_DUE, MONTH_DUE + timedelta(days=1)):
        assert reminders.send_due(db, settings(smtp_url=inbox.url), day).sent == []
    assert inbox.messages == [] and claims(db) == 0


def test_none_once_a_reopen_set_the_ship_aside(db, shipped, make_user, smtp_server, settings):
    inbox = smtp_server()
    beta, _decision = shipped()
    decisions.reopen(db, Actor(make_user(Role.ADMIN)), beta, reason="The export broke.")
    beta.decision_deadline = MONTH_DUE + timedelta(days=30)
    db.flush()
    assert reminders.send_due(db, settings(smtp_url=inbox.url), MONTH_DUE).sent == []
    assert inbox.messages == []


def test_a_checkpoint_another_run_claimed_is_not_sent_again(db, shipped, smtp_server, settings):
    inbox = smtp_server()
    beta, decision = shipped()
    with_smtp = settings(smtp_url=inbox.url)
    due = reminders.due(db, with_smtp, MONTH_DUE)
    # Another run claims the same checkpoint between this run's reading and its claiming.
    db.add(
        ReminderSent(
            beta=beta,
            checkpoint_id=decision.checkpoints[0].id,
            day=MONTH_DUE,
            kind=ReminderKind.CHECKPOINT,
            recipient=beta.owner.email,
        )
    )
    db.flush()
    assert reminders.claim(db, due, MONTH_DUE) == []
    assert reminders.send_due(db, with_smtp, MONTH_DUE).sent == []
    assert inbox.messages == [] and claims(db) == 1


def test_a_checkpoint_and_a_deadline_reminder_go_out_the_same_day(
    db, shipped, make_beta, smtp_server, settings
):
    inbox = smtp_server()
    beta, _decision = shipped()
    late = make_beta(
        key="late", owner=beta.owner, state=BetaState.RUNNING, deadline=date(2026, 11, 30)
    )
    report = reminders.send_due(db, settings(smtp_url=inbox.url), MONTH_DUE)
    assert [(r.beta_key, r.kind) for r in report.sent] == [
        (late.key, ReminderKind.OVERDUE),
        (beta.key, ReminderKind.CHECKPOINT),
    ]
    assert len(inbox.messages) == 2


def test_the_day_a_checkpoint_is_due_is_the_configured_zones(db, shipped, smtp_server, settings):
    inbox = smtp_server()
    shipped()
    # 11:30 on 30 November in UTC is already 00:30 on 1 December in Auckland.
    now = datetime(2026, 11, 30, 11, 30, tzinfo=UTC)
    in_utc = settings(smtp_url=inbox.url)
    in_auckland = settings(smtp_url=inbox.url, timezone="Pacific/Auckland")
    assert reminders.send_due(db, in_utc, lifecycle.today_in(in_utc.zone, now)).sent == []
    auckland_today = lifecycle.today_in(in_auckland.zone, now)
    assert auckland_today == MONTH_DUE
    assert len(reminders.send_due(db, in_auckland, auckland_today).sent) == 1
    # Shipped at 15:00 UTC on 1 November: already 2 November in Auckland.
    assert "shipped on 2026-11-02" in " ".join(inbox.messages[0].get_content().split())


def test_without_smtp_a_due_checkpoint_is_listed_and_nothing_recorded(db, shipped, settings):
    beta, decision = shipped()
    report = reminders.send_due(db, settings(smtp_url=""), MONTH_DUE)
    [listed] = report.would_send
    assert listed.checkpoint_id == decision.checkpoints[0].id
    assert listed.mail.to == beta.owner.email
    assert report.sent == [] and claims(db) == 0


def test_the_remind_command_prints_a_due_checkpoint_without_smtp(
    db, app, shipped, runner, monkeypatch
):
    monkeypatch.setitem(
        app.config,
        "SHIPCALL",
        replace(app.config["SHIPCALL"], smtp_url="", base_url="https://shipcall.example.com"),
    )
    today = lifecycle.today_in(app.config["SHIPCALL"].zone)
    beta, decision = shipped(on=today - timedelta(days=40))
    for _run in range(2):
        result = runner.invoke(args=["betas", "remind"])
        assert result.exit_code == 0, result.output
        assert (
            f"Would send to {beta.owner.email}: Inbox reports: the 1-month outcome checkpoint "
            "is due" in result.output
        )
        link = f"https://shipcall.example.com/betas/{beta.key}/checkpoints/"
        assert f"{link}{decision.checkpoints[0].id}\n" in result.output
    assert claims(db) == 0


def test_the_remind_command_sends_a_due_checkpoint_once(
    db, app, shipped, runner, monkeypatch, smtp_server
):
    inbox = smtp_server()
    monkeypatch.setitem(app.config, "SHIPCALL", replace(app.config["SHIPCALL"], smtp_url=inbox.url))
    today = lifecycle.today_in(app.config["SHIPCALL"].zone)
    beta, _decision = shipped(on=today - timedelta(days=40))
    first = runner.invoke(args=["betas", "remind"])
    assert first.output == (
        f"Sent to {beta.owner.email}: Inbox reports: the 1-month outcome checkpoint is due\n"
    )
    again = runner.invoke(args=["betas", "remind"])
    assert again.output == "No reminder is due today (or another run sent it already).\n"
    assert len(inbox.messages) == 1 and claims(db) == 1


@pytest.mark.parametrize(("minutes_ago", "sent"), [(2, 0), (16, 1)])
def test_a_checkpoint_claim_left_unsent_by_a_run_that_died_is_taken_over_once_stale(
    db, shipped, smtp_server, settings, minutes_ago, sent
):
    inbox = smtp_server()
    beta, decision = shipped()
    month = decision.checkpoints[0]
    # Claimed late on the day it came due by a run that died before sending it.
    db.add(
        ReminderSent(
            beta=beta,
            checkpoint_id=month.id,
            day=MONTH_DUE,
            kind=ReminderKind.CHECKPOINT,
            recipient=beta.owner.email,
            claimed_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
        )
    )
    db.flush()
    next_day = MONTH_DUE + timedelta(days=1)
    with_smtp = settings(smtp_url=inbox.url)
    assert len(reminders.send_due(db, with_smtp, next_day).sent) == sent
    assert reminders.send_due(db, with_smtp, next_day).sent == []
    assert len(inbox.messages) == sent and claims(db) == 1
    if sent:
        assert rows(db) == [(month.id, next_day, ReminderKind.CHECKPOINT)]
