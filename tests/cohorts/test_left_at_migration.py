"""Revision 0007 dates the memberships that left before it from their audit entries."""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from betas.db import UTCDateTime, alembic_config, create_db_engine
from betas.models import AuditEntry, Role, User
from cohorts.models import Account, Cohort, CohortKind
from tests.helpers import CHEAP_HASH

MEMBERSHIPS_0006 = sa.table(
    "memberships",
    sa.column("beta_id", sa.Integer),
    sa.column("account_id", sa.Integer),
    sa.column("cohort_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("reason", sa.Text),
    sa.column("enrolled_at", UTCDateTime()),
)


# The betas table as it stood at 0006: later revisions add columns the models know of.
BETAS_0006 = sa.table(
    "betas",
    sa.column("id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("name", sa.String),
    sa.column("problem", sa.Text),
    sa.column("learning_goals", sa.Text),
    sa.column("customer_outcome", sa.Text),
    sa.column("business_outcomes", sa.JSON),
    sa.column("risk", sa.String),
    sa.column("owner_id", sa.Integer),
    sa.column("state", sa.String),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


def at(day: int) -> datetime:
    return datetime(2026, 11, day, 9, 30, tzinfo=UTC)


def test_memberships_that_left_get_the_time_of_their_latest_audit_entry(scratch_database_url):
    config = alembic_config(scratch_database_url)
    command.upgrade(config, "0006")
    engine = create_db_engine(scratch_database_url)
    try:
        with Session(engine) as session:
            owner = User(email="pm@example.com", password_hash=CHEAP_HASH, role=Role.PM)
            session.add(owner)
            session.flush()
            for key in ("inbox", "other"):
                session.execute(
                    sa.insert(BETAS_0006).values(
                        key=key,
                        name=key.title(),
                        problem="",
                        learning_goals="",
                        customer_outcome="",
                        business_outcomes=[],
                        risk="low",
                        owner_id=owner.id,
                        state="draft",
                        created_at=at(1),
                        updated_at=at(1),
                    )
                )
            beta_ids = dict(session.execute(sa.select(BETAS_0006.c.key, BETAS_0006.c.id)).all())
            accounts = {n: Account(external_id=n) for n in ("quit", "said-no", "silent", "back")}
            cohorts = {
                key: Cohort(beta_id=beta_id, slug="early", name="Early", kind=CohortKind.MANUAL)
                for key, beta_id in beta_ids.items()
            }
            session.add_all([*accounts.values(), *cohorts.values()])
            session.flush()
            statuses = {
                "quit": "opted_out",
                "said-no": "declined",
                "silent": "opted_out",
                "back": "active",
            }
            rows = [
                {
                    "beta_id": beta_ids["inbox"],
                    "account_id": accounts[name].id,
                    "cohort_id": cohorts["inbox"].id,
                    "status": status,
                    "reason": "",
                    "enrolled_at": at(1),
                }
                for name, status in statuses.items()
            ]
            # Out of the other beta too, later: that is not when it left this one.
            rows.append({**rows[0], "beta_id": beta_ids["other"], "cohort_id": cohorts["other"].id})
            session.execute(sa.insert(MEMBERSHIPS_0006), rows)

            def entry(beta, name, action, day):
                session.add(
                    AuditEntry(
                        beta_id=beta_ids[beta],
                        user=owner,
                        action=action,
                        object_type="Account",
                        object_id=name,
                        details={},
                        created_at=at(day),
                    )
                )

            entry("inbox", "quit", "member.opted_out", 3)
            entry("inbox", "quit", "member.opted_out", 7)  # added back, then out again
            entry("other", "quit", "member.opted_out", 20)
            entry("inbox", "said-no", "member.declined", 5)
            entry("inbox", "said-no", "member.opted_out", 9)  # not what made it declined
            entry("inbox", "back", "member.opted_out", 4)  # added back since: it has not left
            session.commit()
            account_ids = {name: a.id for name, a in accounts.items()}

        command.upgrade(config, "0007")

        left = sa.table(
            "memberships",
            sa.column("beta_id", sa.Integer),
            sa.column("account_id", sa.Integer),
            sa.column("left_at", UTCDateTime()),
            sa.column("opt_out_reason", sa.Text),
        )
        with Session(engine) as session:
            found = {
                (beta_id, account_id): (left_at, reason)
                for beta_id, account_id, left_at, reason in session.execute(sa.select(left))
            }
        inbox_id, other_id = beta_ids["inbox"], beta_ids["other"]
        assert found == {
            (inbox_id, account_ids["quit"]): (at(7), None),
            (inbox_id, account_ids["said-no"]): (at(5), None),
            (inbox_id, account_ids["silent"]): (None, None),
            (inbox_id, account_ids["back"]): (None, None),
            (other_id, account_ids["quit"]): (at(20), None),
        }
    finally:
        engine.dispose()
