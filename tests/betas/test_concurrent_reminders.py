"""Runs of the reminders at once, each in its own session and connection, send each one once."""

import threading
from dataclasses import replace
from datetime import date, timedelta

from alembic import command
from sqlalchemy import func, select

from betas import reminders
from betas.auth.users import create_user
from betas.db import Database, alembic_config
from betas.models import Beta, BetaState, Checkpoint, Decision, Outcome, ReminderSent, Role

RUNS = 4


def test_runs_at_once_send_each_reminder_once(app, scratch_database_url, smtp_server):
    command.upgrade(alembic_config(scratch_database_url), "head")
    database = Database(scratch_database_url)
    inbox = smtp_server()
    settings = replace(app.config["SHIPCALL"], smtp_url=inbox.url)
    today = date(2026, 12, 1)
    with database.session() as session:
        owner = create_user(session, "pat@example.com", "x" * 16, Role.PM)
        for key, left in (("week", 7), ("tomorrow", 1), ("late", -2), ("later", 3)):
            session.add(
                Beta(
                    key=key,
                    name=key.title(),
                    owner=owner,
                    state=BetaState.RUNNING,
                    decision_deadline=today + timedelta(days=left),
                )
            )
        # A ship whose 1-month checkpoint is due today, and whose 3-month one is not yet.
        shipped = Beta(
            key="shipped",
            name="Shipped",
            owner=owner,
            state=BetaState.DECIDED,
            decision_deadline=today - timedelta(days=40),
        )
        decision = Decision(
            beta=shipped,
            outcome=Outcome.SHIP,
            rationale="They use it.",
            answers={},
            participants={},
            snapshot={},
            user=owner,
        )
        decision.checkpoints += [
            Checkpoint(months=1, due_on=today),
            Checkpoint(months=3, due_on=today + timedelta(days=61)),
        ]
        session.add(shipped)
        session.commit()

    start = threading.Barrier(RUNS)
    sent: list[str] = []
    errors: list[BaseException] = []

    def run():
        try:
            with database.session() as session:
                start.wait()
                sent.extend(r.beta_key for r in reminders.send_due(session, settings, today).sent)
        except BaseException as exc:  # the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(RUNS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(sent) == ["late", "shipped", "tomorrow", "week"]
    assert sorted(m["Subject"].split(":")[0] for m in inbox.messages) == [
        "Late",
        "Shipped",
        "Tomorrow",
        "Week",
    ]
    with database.session() as session:
        rows = session.scalar(
            select(func.count()).select_from(ReminderSent).where(ReminderSent.sent_at.is_not(None))
        )
        assert rows == 4
    database.engine.dispose()
