"""The commands: `usage import-events FILE` (all or nothing, idempotent) and `usage rebuild`."""

from __future__ import annotations

import dataclasses
import json
from zoneinfo import ZoneInfo

from sqlalchemy import delete

from betas.models import Role
from tests.helpers import snapshot
from tests.usage.sending import EVENTS, count, counted_by_hand, event, rollup_rows
from usage.models import UsageDay, UsageEvent


def write(tmp_path, lines: list[object], name: str = "events.jsonl") -> str:
    """Write JSON Lines: each item as JSON, or a text as it is."""
    path = tmp_path / name
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return str(path)


def import_events(runner, path: str):
    return runner.invoke(args=["usage", "import-events", path])


def test_import_events_stores_a_file_and_prints_the_counts(runner, db, tmp_path):
    lines = [event(id="a"), "", event(id="b", account="globex"), event(id="a", action="x")]
    result = import_events(runner, write(tmp_path, lines))
    assert result.exit_code == 0, result.output
    assert "Importing events" in result.output
    assert result.output.strip().splitlines()[-1] == "2 accepted, 1 duplicate"
    assert count(db, UsageEvent) == 2
    assert rollup_rows(db) == counted_by_hand(db, ZoneInfo("UTC"))


def test_importing_a_file_again_adds_nothing(runner, db, tmp_path):
    path = write(tmp_path, [event(), event(), event(account="globex")])
    assert import_events(runner, path).output.strip().splitlines()[-1] == (
        "3 accepted, 0 duplicates"
    )
    before = snapshot(db)
    result = import_events(runner, path)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "0 accepted, 3 duplicates"
    assert snapshot(db) == before


def test_a_large_file_goes_in_batches_and_shares_ids_across_them(runner, db, tmp_path):
    lines = [event(id=f"e{n}", account=f"acct-{n % 50}") for n in range(2_500)]
    lines.append(event(id="e3"))  # a duplicate of an event of the first batch
    result = import_events(runner, write(tmp_path, lines))
    assert result.output.strip().splitlines()[-1] == "2,500 accepted, 1 duplicate"
    assert count(db, UsageEvent) == 2_500
    assert rollup_rows(db) == counted_by_hand(db, ZoneInfo("UTC"))


def test_a_bad_line_refuses_the_whole_file_naming_its_line_and_field(runner, tmp_path, unchanged):
    # 1,500 good lines first: a batch of 1,000 was stored before line 1,502 was read.
    lines = [event() for _ in range(1_500)]
    lines += ["", event(occurred_at="2026-10-02T14:30:00"), event()]
    with unchanged():
        result = import_events(runner, write(tmp_path, lines))
    assert result.exit_code == 1
    assert "line 1502: occurred_at: '2026-10-02T14:30:00' has no zone" in result.output
    assert "Nothing was stored: 1 problem found." in result.output


def test_unreadable_lines_are_named_too(runner, tmp_path, unchanged):
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        json.dumps(event()).encode()
        + b'\n{"id": "b",\n["a list"]\n'
        + json.dumps(event(account="caf\u00e9")).encode("latin-1").replace(b"\\u00e9", b"\xe9")
        + b"\n"
    )
    with unchanged():
        result = import_events(runner, str(path))
    assert result.exit_code == 1
    assert "line 2: not valid JSON" in result.output
    assert "line 3: expected an object" in result.output
    assert "line 4: not UTF-8" in result.output
    assert "3 problems found" in result.output


def test_a_file_with_many_bad_lines_lists_the_first_50(runner, tmp_path, unchanged):
    with unchanged():
        result = import_events(runner, write(tmp_path, [event(id=None) for _ in range(80)]))
    assert result.exit_code == 1
    listed = [line for line in result.output.splitlines() if line.startswith("  line ")]
    assert len(listed) == 50
    assert listed[0] == "  line 1: id: missing"
    assert "80 problems found; the first 50 are listed" in result.output


def test_a_file_with_a_bom_is_read(runner, db, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(event()).encode() + b"\n")
    result = import_events(runner, str(path))
    assert result.exit_code == 0, result.output
    assert count(db, UsageEvent) == 1


def test_rebuild_restores_a_deleted_rollup(runner, db, tmp_path):
    lines = [event(), event(account="globex"), event(action="shared"), event()]
    import_events(runner, write(tmp_path, lines))
    kept = rollup_rows(db)
    db.execute(delete(UsageDay))
    assert count(db, UsageDay) == 0
    result = runner.invoke(args=["usage", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Counting events" in result.output
    assert result.output.strip().splitlines()[-1] == (
        "Rebuilt the rollup in UTC: 4 events in 3 day rows."
    )
    assert rollup_rows(db) == kept


def test_rebuild_counts_the_days_of_the_configured_zone(app, runner, db, tmp_path, monkeypatch):
    lines = [event(occurred_at="2026-11-01T03:30:00Z"), event(occurred_at="2026-11-01T04:30:00Z")]
    import_events(runner, write(tmp_path, lines))
    assert len(rollup_rows(db)) == 1  # one day in UTC
    settings = dataclasses.replace(app.config["SHIPCALL"], timezone="America/New_York")
    monkeypatch.setitem(app.config, "SHIPCALL", settings)
    result = runner.invoke(args=["usage", "rebuild"])
    assert "in America/New_York: 2 events in 2 day rows." in result.output
    assert rollup_rows(db) == counted_by_hand(db, ZoneInfo("America/New_York"))


def test_the_token_command_makes_a_token_that_sends_events(runner, client, make_user):
    make_user(Role.ADMIN)
    result = runner.invoke(args=["tokens", "create", "product-events", "--scope", "events:write"])
    assert result.exit_code == 0, result.output
    headers = {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}
    response = client.post(EVENTS, json={"events": [event()]}, headers=headers)
    assert response.get_json() == {"accepted": 1, "duplicates": 0}
