"""Revision 0019 folds the reasons of the items logged before it, as the model folds new ones."""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from betas.db import UTCDateTime, alembic_config, create_db_engine
from betas.models import Beta, Role, User
from cohorts.models import Account
from tests.helpers import CHEAP_HASH

# The items table as 0012 made it (the columns this test writes), and the column 0019 adds.
ITEMS_0012 = sa.table(
    "feedback_items",
    sa.column("id", sa.Integer),
    sa.column("beta_id", sa.Integer),
    sa.column("account_id", sa.Integer),
    sa.column("original", sa.Text),
    sa.column("source", sa.String),
    sa.column("reason", sa.Text),
    sa.column("logged_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("reason_key", sa.Text),
)
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def test_items_logged_before_get_their_reason_folded(scratch_database_url):
    config = alembic_config(scratch_database_url)
    command.upgrade(config, "0018")
    engine = create_db_engine(scratch_database_url)
    try:
        with Session(engine) as session:
            owner = User(email="pm@example.com", password_hash=CHEAP_HASH, role=Role.PM)
            beta = Beta(key="inbox", name="Inbox", owner=owner)
            account = Account(external_id="acme")
            session.add_all([beta, account])
            session.flush()
            row = {"beta_id": beta.id, "account_id": account.id, "original": "Said."}
            row.update(logged_at=NOW, updated_at=NOW)
            session.execute(
                ITEMS_0012.insert(),
                [
                    {**row, "source": "call", "reason": " Export, to CSV! "},
                    {**row, "source": "call", "reason": None},
                ],
            )
            session.commit()

        command.upgrade(config, "0019")

        with engine.connect() as connection:
            keys = connection.execute(
                sa.select(ITEMS_0012.c.reason_key).order_by(ITEMS_0012.c.id)
            ).scalars()
            assert list(keys) == ["export to csv", None]
    finally:
        engine.dispose()
