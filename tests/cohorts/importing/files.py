"""Files to import, and the helpers that read what an import did."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from cohorts.importing import ImportFailed
from cohorts.models import Account

ACCOUNTS = b"external_id,name,plan,seats\nacme,Acme,pro,12\nglobex,Globex,free,007\n"
CONVERSATIONS = (
    "conversation_id,account,author,body,created_at,tags\n"
    'c-1,acme,customer,"<p>Hi,</p><p>Can we <b>export</b> to CSV?</p>",'
    '2026-10-02T14:30:00Z,"billing; reports"\n'
    'c-1,acme,teammate,"<p>Yes: export from Reports.</p>",2026-10-02T15:00:00Z,"billing; reports"\n'
    "c-2,globex,bot,Closed after a week.,2026-10-01T09:00:00+02:00,\n"
)


def csv_file(content: str | bytes) -> io.BytesIO:
    return io.BytesIO(content.encode() if isinstance(content, str) else content)


def jsonl(*objects) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(o) + "\n" for o in objects).encode())


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def accounts_by_id(db) -> dict[str, Account]:
    db.expire_all()
    return {a.external_id: a for a in db.scalars(select(Account))}


def failure(call) -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        call()
    assert caught.value.status == 422 and caught.value.code == "import_failed"
    return caught.value


def messages(exc: ImportFailed) -> list[str]:
    return [str(problem) for problem in exc.problems]
