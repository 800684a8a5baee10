"""Two imports creating the same account at once: one wins, the other is told, none fails."""

import threading
import time

from alembic import command
from sqlalchemy import func, select

from betas.db import Database, alembic_config
from cohorts.importing import ImportClashed, Kind, import_items
from cohorts.models import Account
from tests.helpers import is_postgres


def test_the_second_of_two_imports_creating_one_account_is_refused_or_updates(
    scratch_database_url,
):
    command.upgrade(alembic_config(scratch_database_url), "head")
    database = Database(scratch_database_url)
    first = database.session()
    import_items(first, Kind.ACCOUNTS, [{"external_id": "acme", "name": "Acme"}])  # uncommitted
    outcome = {}

    def second():
        with database.session() as session:
            try:
                items = [{"external_id": "acme", "name": "Acme Inc"}]
                outcome["result"] = import_items(session, Kind.ACCOUNTS, items)
                session.commit()
            except ImportClashed as exc:
                outcome["refused"] = exc.message

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    first.commit()
    first.close()
    thread.join(timeout=30)

    if is_postgres(scratch_database_url):
        # Both saw no "acme" and inserted it; the second waited on the unique key, then failed.
        assert "Import it again" in outcome["refused"]
    else:
        # SQLite's writers queue: the second began after the first committed, and updated.
        assert outcome["result"].updated == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 1
    database.engine.dispose()
