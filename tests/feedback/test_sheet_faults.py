"""The relay under faults: retries bounded and honest, nothing lost, nothing written twice."""

from datetime import date

import pytest
from sqlalchemy import text

from betas.audit import Actor
from betas.auth.users import create_user
from betas.db import Database, alembic_config, utcnow
from betas.models import Beta, BetaState, Role
from feedback import log, sync
from feedback.models import OutboxEntry, SheetLink
from tests.feedback.helpers import SPREADSHEET, TYPES, by_id
from tests.helpers import CHEAP_HASH, is_postgres


def logged(db, pm, beta, original="Reports are slow."):
    return log.log(db, Actor(pm), beta, account="acme", original=original, types=TYPES)


def test_a_burst_of_429s_is_waited_out(db, pm, beta, acme, linked, fake, run_sync):
    item = logged(db, pm, beta)
    fake.fail(2, status=429, retry_after="0")

    [report] = run_sync()

    assert report.error is None and str(item.id) in by_id(fake)


def test_after_the_last_try_entries_stay_pending_and_the_state_says_why(
    db, pm, beta, acme, linked, fake, run_sync
):
    item = logged(db, pm, beta)
    fake.fail(3, status=500, where="values:batchUpdate")

    [report] = run_sync()

    assert "500" in report.error
    db.refresh(linked)
    assert linked.failures == 1 and "500" in linked.last_error
    assert linked.next_try_at > utcnow() and linked.last_success_at is None
    assert db.query(OutboxEntry).filter_by(feedback_item_id=item.id).count() == 1

    [report] = run_sync()
    db.refresh(linked)
    assert report.error is None and linked.last_error is None and linked.failures == 0
    assert db.query(OutboxEntry).count() == 0 and str(item.id) in by_id(fake)


def test_a_write_whose_answer_is_lost_to_a_timeout_is_retried_without_a_duplicate(
    db, pm, beta, acme, linked, fake, run_sync
):
    items = [logged(db, pm, beta, f"Item {n}") for n in range(3)]
    fake.fail(1, delay=0.8, applied=True, where="values:batchUpdate")

    [report] = run_sync()

    assert report.error is None
    assert sorted(by_id(fake)) == sorted(str(i.id) for i in items)
    assert len(fake.sheet(SPREADSHEET).values()) == 4


def test_a_sync_that_failed_after_its_write_landed_adds_no_duplicate_next_time(
    db, pm, beta, acme, linked, fake, run_sync
):
    items = [logged(db, pm, beta, f"Item {n}") for n in range(3)]
    fake.fail(3, status=503, applied=True, where="values:batchUpdate")
    [failed] = run_sync()
    assert failed.error

    logged(db, pm, beta, "One more")
    [report] = run_sync()

    assert report.error is None and report.appended == 1
    assert len(fake.sheet(SPREADSHEET).values()) == 1 + len(items) + 1


def test_a_timeout_on_every_try_is_reported_as_google_not_answering(
    db, pm, beta, acme, linked, fake, run_sync
):
    logged(db, pm, beta)
    fake.fail(3, delay=0.8, where="/values/")

    [report] = run_sync()

    assert "did not answer in time" in report.error


@pytest.mark.skipif("not config.getoption('--database-url')", reason="PostgreSQL only")
def test_workers_skip_a_beta_another_worker_holds_on_postgresql(scratch_database_url):
    from alembic import command

    if not is_postgres(scratch_database_url):
        pytest.skip("SKIP LOCKED is PostgreSQL's")
    command.upgrade(alembic_config(scratch_database_url), "head")
    database = Database(scratch_database_url)
    with database.session() as setup:
        owner = create_user(setup, "pm@example.com", "x" * 12, Role.PM, hash_method=CHEAP_HASH)
        for n in (1, 2):
            beta = Beta(
                key=f"b-{n}",
                name="B",
                owner=owner,
                state=BetaState.RUNNING,
                decision_deadline=date(2030, 1, 1),
            )
            setup.add(SheetLink(id=n, beta=beta, spreadsheet_id="k", worksheet="w", sheet_id=1))
        setup.commit()
    holder = database.engine.connect()
    try:
        with holder.begin():
            holder.execute(text("SELECT id FROM sheet_links WHERE id = 1 FOR UPDATE"))
            lease, every = sync.timedelta(seconds=60), sync.timedelta(seconds=60)
            assert sync.claim(database, utcnow(), lease, every) == 2
            assert sync.claim(database, utcnow(), lease, every) is None  # 2 is leased now
    finally:
        holder.close()
        database.engine.dispose()
