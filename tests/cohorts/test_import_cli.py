"""The import commands: `cohorts import-accounts` and `cohorts import-conversations`."""

from __future__ import annotations

from sqlalchemy import func, select

from cohorts.models import Account, Conversation, ImportRun, ImportVia

ACCOUNTS = "Account ID,Name,Plan\nacme,Acme,pro\nglobex,Globex,free\n"
CONVERSATIONS = (
    "ticket,customer,sender,text,sent,labels\n"
    "t-1,acme,customer,<p>Hi</p>,2026-10-02T14:30:00Z,billing\n"
    "t-1,acme,teammate,Hello,2026-10-02T15:00:00Z,billing\n"
)
MAPS = ["--map", "ticket=conversation", "--map", "customer=account", "--map", "sent=created_at"]


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def test_import_accounts_prints_created_then_updated(runner, db, tmp_path):
    path = write(tmp_path, "accounts.csv", ACCOUNTS)
    result = runner.invoke(args=["cohorts", "import-accounts", path])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "2 created, 0 updated"
    assert "Importing accounts" in result.output
    result = runner.invoke(args=["cohorts", "import-accounts", path])
    assert result.output.strip().splitlines()[-1] == "0 created, 2 updated"
    db.expire_all()
    acme = db.scalar(select(Account).where(Account.external_id == "acme"))
    assert acme.attributes == {"Plan": "pro"}


def test_import_conversations_takes_a_mapping_for_unusual_columns(runner, db, tmp_path):
    runner.invoke(args=["cohorts", "import-accounts", write(tmp_path, "a.csv", ACCOUNTS)])
    path = write(tmp_path, "conversations.csv", CONVERSATIONS)
    result = runner.invoke(args=["cohorts", "import-conversations", path, *MAPS])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "1 created, 0 updated"
    db.expire_all()
    conversation = db.scalar(select(Conversation))
    assert conversation.external_id == "t-1"
    assert [p.body for p in conversation.parts] == ["Hi", "Hello"]
    assert [t.tag for t in conversation.tags] == ["billing"]


def test_without_the_mapping_the_missing_fields_are_named(runner, tmp_path, unchanged):
    path = write(tmp_path, "conversations.csv", CONVERSATIONS)
    with unchanged():
        result = runner.invoke(args=["cohorts", "import-conversations", path])
    assert result.exit_code == 1
    assert "no column holds the conversation id: map one to conversation" in result.output
    assert "no column holds the time of the part: map one to created_at" in result.output
    assert "Error: Nothing was imported: 3 problems found." in result.output


def test_a_bad_file_exits_non_zero_lists_problems_and_changes_nothing(
    runner, db, tmp_path, unchanged
):
    runner.invoke(args=["cohorts", "import-accounts", write(tmp_path, "a.csv", ACCOUNTS)])
    content = CONVERSATIONS.replace("t-1,acme,teammate", "t-1,acme,robot") + (
        "t-2,acme-9,customer,Hi,2026-10-02T14:30:00Z,\n"
    )
    path = write(tmp_path, "conversations.csv", content)
    with unchanged():
        result = runner.invoke(args=["cohorts", "import-conversations", path, *MAPS])
    assert result.exit_code == 1
    assert "row 3, column sender: unknown author 'robot': use customer, teammate or bot" in (
        result.output
    )
    assert "row 4, column customer: no account with id 'acme-9'; import accounts first" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert count(db, Conversation) == 0


def test_a_file_that_is_not_utf8_is_refused(runner, db, tmp_path, unchanged):
    path = write(tmp_path, "accounts.csv", "id,name\nzurich,Zürich AG\n".encode("cp1252"))
    with unchanged():
        result = runner.invoke(args=["cohorts", "import-accounts", path])
    assert result.exit_code == 1
    assert "the file is not UTF-8 (near row 2): save it as UTF-8 and try again" in result.output
    assert count(db, Account) == 0


def test_json_lines_are_imported_too(runner, db, tmp_path):
    path = write(tmp_path, "accounts.jsonl", '{"external_id": "acme", "plan": "pro"}\n')
    result = runner.invoke(args=["cohorts", "import-accounts", path])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("1 created, 0 updated")


def test_a_malformed_map_is_refused(runner, tmp_path, unchanged):
    path = write(tmp_path, "accounts.csv", ACCOUNTS)
    with unchanged():
        result = runner.invoke(args=["cohorts", "import-accounts", path, "--map", "name"])
    assert result.exit_code == 2
    assert "'name' is not COLUMN=FIELD." in result.output


def test_an_import_from_the_command_line_is_recorded_as_such(runner, db, tmp_path):
    path = write(tmp_path, "accounts.csv", ACCOUNTS)
    runner.invoke(args=["cohorts", "import-accounts", path])
    db.expire_all()
    run = db.scalar(select(ImportRun))
    assert (run.via, run.who, run.user, run.file_name, run.kind) == (
        ImportVia.COMMAND_LINE,
        "command line",
        None,
        "accounts.csv",
        "accounts",
    )
    assert (run.created, run.updated) == (2, 0)


def test_a_failed_import_from_the_command_line_records_nothing(runner, db, tmp_path, unchanged):
    path = write(tmp_path, "accounts.csv", "id,name\n,Nameless\n")
    with unchanged():
        result = runner.invoke(args=["cohorts", "import-accounts", path])
    assert result.exit_code == 1
    assert count(db, ImportRun) == 0
