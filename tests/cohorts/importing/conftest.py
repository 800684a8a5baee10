"""The accounts that imported conversations attach to."""

from __future__ import annotations

import pytest

from cohorts.importing import Kind, import_file
from tests.cohorts.importing.files import ACCOUNTS, accounts_by_id, csv_file


@pytest.fixture
def accounts(db):
    import_file(db, csv_file(ACCOUNTS), Kind.ACCOUNTS)
    return accounts_by_id(db)
