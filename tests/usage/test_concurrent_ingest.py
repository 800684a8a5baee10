"""Two sessions at once: each event stored and counted once; values never stored stale."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import func, select

from betas.auth.users import create_user
from betas.db import Database, alembic_config
from betas.models import Beta, BetaState, MetricStage, MetricUnit, Role, SuccessMetric
from cohorts.models import Account, Cohort, CohortKind, Membership, MembershipStatus
from tests.helpers import CHEAP_HASH, WEEKLY_USE_RULE
from tests.usage.sending import counted_by_hand, event, rollup_rows
from usage import rollup, values
from usage.events import Ingested, ingest_items
from usage.models import UsageDay, UsageEvent

UTC_ZONE = ZoneInfo("UTC")


def race(url: str, first_batch: list[dict], second_batch: list[dict]):
    """Ingest the first batch, uncommitted; the second in another session; then commit the first.

    Return both results, and whether the second was still waiting when the first committed.
    """
    command.upgrade(alembic_config(url), "head")
    database = Database(url)
    first = database.session()
    first_result = ingest_items(first, first_batch, UTC_ZONE)  # inserted, not committed
    outcome = {}

    def second():
        with database.session() as session:
            outcome["result"] = ingest_items(session, second_batch, UTC_ZONE)  # waits
            session.commit()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    waited = thread.is_alive()
    first.commit()
    first.close()
    thread.join(timeout=30)
    return database, first_result, outcome["result"], waited


def test_two_sessions_sending_the_same_batch_at_once_count_it_once(scratch_database_url):
    batch = [event(id=f"e{n}", account=f"acct-{n % 3}") for n in range(20)]
    database, first, second, waited = race(scratch_database_url, batch, batch)

    # PostgreSQL: the second waited on the unique ids; SQLite: on the write lock.
    assert waited
    assert first == Ingested(20, 0)
    assert second == Ingested(0, 20)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageEvent)) == 20
        assert session.scalar(select(func.sum(UsageDay.events))) == 20
        assert session.scalar(select(func.count()).select_from(Account)) == 3
    database.engine.dispose()


def test_two_sessions_creating_one_account_at_once_share_it(scratch_database_url):
    database, first, second, _waited = race(
        scratch_database_url,
        [event(id="a", account="newco"), event(id="b", account="acme")],
        [event(id="c", account="newco"), event(id="d", account="newco", action="shared")],
    )
    assert (first, second) == (Ingested(2, 0), Ingested(2, 0))
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 2
        newco = session.scalar(select(Account.id).where(Account.external_id == "newco"))
        accounts = session.scalars(select(UsageEvent.account_id).order_by(UsageEvent.id)).all()
        assert accounts.count(newco) == 3
        assert session.scalar(select(func.sum(UsageDay.events))) == 4
    database.engine.dispose()


def test_events_sent_during_a_rebuild_wait_for_it_and_count_once(scratch_database_url, monkeypatch):
    command.upgrade(alembic_config(scratch_database_url), "head")
    database = Database(scratch_database_url)
    with database.session() as session:
        ingest_items(session, [event(id=f"e{n}") for n in range(4)], UTC_ZONE)
        session.commit()
    monkeypatch.setattr(rollup, "REBUILD_CHUNK", 2)

    def send_late():
        with database.session() as session:
            ingest_items(session, [event(id="late", occurred_at="2026-11-02T12:00:00Z")], UTC_ZONE)
            session.commit()

    sender = threading.Thread(target=send_late)

    def progress(_read: int) -> None:
        # After the first chunk: the late event would be read in a later one, had it gone in.
        if sender.ident is None:
            sender.start()
            time.sleep(0.5)

    rebuilding = database.session()
    assert rollup.rebuild(rebuilding, UTC_ZONE, progress=progress).events == 4
    waited = sender.is_alive()
    rebuilding.commit()
    rebuilding.close()
    sender.join(timeout=30)

    assert waited
    with database.session() as session:
        assert rollup_rows(session) == counted_by_hand(session, UTC_ZONE)
        assert session.scalar(select(func.sum(UsageDay.events))) == 5
    database.engine.dispose()


def test_values_computed_while_events_are_stored_count_them(scratch_database_url):
    """A request computing values while a batch is uncommitted waits, then counts its events.

    (One that finds its values stored and fresh reads them: the batch is not there yet for it,
    and marks them stale when it commits.)
    """
    command.upgrade(alembic_config(scratch_database_url), "head")
    database = Database(scratch_database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    launched = now - timedelta(days=5)
    with database.session() as session:
        owner = create_user(session, "pm@example.com", "x" * 20, Role.PM, hash_method=CHEAP_HASH)
        beta = Beta(key="b", name="B", owner=owner, state=BetaState.RUNNING, problem="p",
                    learning_goals="g", launched_at=launched,
                    decision_deadline=now.date() + timedelta(days=30))  # fmt: skip
        beta.metrics.append(SuccessMetric(name="Weekly use", stage=MetricStage.ADOPTION,
                                          target=50, unit=MetricUnit.PERCENT,
                                          rule=WEEKLY_USE_RULE))  # fmt: skip
        cohort = Cohort(beta=beta, slug="early", name="Early", kind=CohortKind.EARLY_ADOPTERS)
        for name in ("acme", "globex"):
            session.add(Membership(beta=beta, account=Account(external_id=name, name=name),
                                   cohort=cohort, status=MembershipStatus.ACTIVE, reason="r",
                                   enrolled_at=launched, joined_at=launched))  # fmt: skip
        session.flush()
        # Stored through yesterday: today's request computes, as on the first request of a day.
        values.metric_values(session, beta, now.date() - timedelta(days=1), UTC_ZONE)
        session.commit()
    storing = database.session()
    late = (launched + timedelta(days=2)).isoformat()
    ingest_items(storing, [event(account="globex", occurred_at=late)], UTC_ZONE)  # uncommitted
    outcome = {}

    def read():
        with database.session() as session:
            found = session.scalar(select(Beta).where(Beta.key == "b"))
            (weekly,) = values.metric_values(session, found, now.date(), UTC_ZONE)  # waits
            session.commit()
            outcome["accounts"] = [d.accounts for d in weekly.all_members.days]

    thread = threading.Thread(target=read)
    thread.start()
    time.sleep(0.5)
    waited = thread.is_alive()
    storing.commit()
    storing.close()
    thread.join(timeout=30)
    # PostgreSQL: the request waited on the beta's mark; SQLite: on the write lock.
    assert waited
    assert outcome["accounts"] == [0, 0, 1, 1, 1, 1]  # from the event's day, a week on
    with database.session() as session:
        found = session.scalar(select(Beta).where(Beta.key == "b"))
        (weekly,) = values.metric_values(session, found, now.date(), UTC_ZONE)
        assert [d.accounts for d in weekly.all_members.days] == outcome["accounts"]
    database.engine.dispose()
