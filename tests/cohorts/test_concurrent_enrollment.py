"""Two people enrolling the same account at once end with one membership."""

import threading
import time
from datetime import date, timedelta

from alembic import command
from sqlalchemy import func, select

from betas.audit import Actor
from betas.auth.users import create_user
from betas.db import Database, alembic_config
from betas.models import Beta, BetaState, Role
from cohorts import memberships
from cohorts.models import Account, Cohort, CohortKind, Membership


def test_a_second_concurrent_enrollment_is_told_the_account_is_there(scratch_database_url):
    command.upgrade(alembic_config(scratch_database_url), "head")
    database = Database(scratch_database_url)
    today = date.today()
    with database.session() as session:
        admin = create_user(session, "admin@example.com", "x" * 16, Role.ADMIN)
        beta = Beta(
            key="b",
            name="B",
            owner=admin,
            state=BetaState.RUNNING,
            decision_deadline=today + timedelta(days=9),
        )
        session.add_all(
            [
                beta,
                Cohort(beta=beta, slug="early", name="Early", kind=CohortKind.EARLY_ADOPTERS),
                Account(external_id="acme", name="Acme"),
            ]
        )
        session.commit()

    def enroll(session):
        beta = session.scalar(select(Beta))
        actor = Actor(beta.owner)
        return memberships.enroll(
            session, actor, beta, session.scalar(select(Cohort)), ["acme"], "asked", today
        )

    first = database.session()
    first_result = enroll(first)  # inserted, not yet committed
    second_result = {}

    def second():
        with database.session() as session:
            second_result["value"] = enroll(session)  # waits for the first to finish
            session.commit()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    first.commit()
    first.close()
    thread.join(timeout=30)

    assert first_result.enrolled == ["acme"]
    assert second_result["value"].enrolled == []
    assert "already in this beta" in second_result["value"].skipped[0]["reason"]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Membership)) == 1
    database.engine.dispose()
