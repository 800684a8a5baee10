"""Who to ask: only members who use it, never those asked too recently or who said no."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from betas.audit import Actor, beta_history, describe
from betas.errors import Conflict, Forbidden, Invalid
from betas.models import BetaState, Role
from cohorts.models import Account
from feedback import asks
from feedback.models import Ask

UTCZ = ZoneInfo("UTC")


def listed(db, used, metric_id=None, days=7, cooldown_days=14, today=None, zone=UTCZ):
    return asks.who_to_ask(
        db,
        used.beta,
        metric_id=metric_id,
        days=days,
        today=today or used.today,
        zone=zone,
        cooldown_days=cooldown_days,
    )


def ids(found) -> list[str]:
    return [a.membership.account.external_id for a in found.accounts]


def test_only_members_who_used_it_and_were_not_asked_recently_are_listed(db, used):
    weekly = used.beta.metrics[0]
    found = listed(db, used, metric_id=weekly.id)
    assert ids(found) == ["acme"]
    (acme,) = found.accounts
    assert acme.event_count == 1 and acme.last_seen_at == used.now - timedelta(days=2)
    # globex never used it; hooli was asked 3 days ago by another beta; initech opted out.
    assert found.left_out == asks.LeftOut(not_using=1, cooldown=1, opted_out=1)


def test_any_beta_event_lists_the_same_users_and_days_narrow_it(db, used):
    assert ids(listed(db, used)) == ["acme"]
    assert ids(listed(db, used, cooldown_days=0)) == ["acme", "hooli"]
    # acme's event was 2 days ago: yesterday and today hold only hooli's.
    found = listed(db, used, days=2, cooldown_days=0)
    assert ids(found) == ["hooli"]
    assert found.left_out == asks.LeftOut(not_using=2, cooldown=0, opted_out=1)


def test_an_account_with_no_usage_is_never_listed(db, used):
    assert "globex" not in ids(listed(db, used, days=365, cooldown_days=0))


def test_the_cooldown_counts_whole_days_in_the_configured_zone(db, used):
    tokyo = ZoneInfo("Asia/Tokyo")
    today = datetime(2026, 12, 20, 12, tzinfo=tokyo).date()
    # Asked at 00:30 in Tokyo on 7 December: 15:30 UTC on the 6th, a day earlier in UTC.
    ask = db.scalar(select(Ask))
    ask.asked_at = datetime.combine(today - timedelta(days=13), time(0, 30), tzinfo=tokyo)
    db.flush()
    start = asks.cooldown_start(today, 14, tokyo)
    assert start == datetime.combine(today - timedelta(days=13), time(0), tzinfo=tokyo)
    assert asks.last_asked(db, [ask.account_id], start)  # day 14 of 14: still in the cooldown
    assert not asks.last_asked(db, [ask.account_id], asks.cooldown_start(today, 13, tokyo))
    # In UTC the same ask fell on the day before the 14 days began.
    assert not asks.last_asked(db, [ask.account_id], asks.cooldown_start(today, 14, UTC))
    assert asks.cooldown_start(today, 0, tokyo) is None


def test_a_bad_metric_or_days_are_refused(db, used, make_beta):
    with pytest.raises(Invalid) as unknown:
        listed(db, used, metric_id=999_999)
    assert unknown.value.details[0]["field"] == "metric"
    used.beta.metrics[0].rule = None
    with pytest.raises(Invalid):
        listed(db, used, metric_id=used.beta.metrics[0].id)
    for days in (0, 366):
        with pytest.raises(Invalid) as bad:
            listed(db, used, days=days)
        assert bad.value.details[0]["field"] == "days"


def record(db, used, accounts, channel="email", actor=None, now=None, cooldown_days=14):
    return asks.record_asks(
        db,
        Actor(actor or used.beta.owner),
        used.beta,
        accounts,
        channel,
        now=now or used.now,
        zone=UTCZ,
        cooldown_days=cooldown_days,
    )


def test_recording_asks_leaves_out_those_in_the_cooldown(db, used):
    done = record(db, used, ["acme", "hooli", "acme", " globex "])
    assert [a.account.external_id for a in done.asked] == ["acme", "globex"]
    assert done.cooldown == ["hooli"]
    assert {a.channel for a in done.asked} == {"email"}
    again = record(db, used, ["acme"], now=used.now + timedelta(days=1))
    assert again.asked == [] and again.cooldown == ["acme"]
    later = record(db, used, ["acme"], now=used.now + timedelta(days=14))
    assert [a.account.external_id for a in later.asked] == ["acme"]
    assert asks.count_asks(db, used.beta) == 3
    assert asks.count_asks(db, used.other) == 1


def test_asks_recorded_are_in_the_history(db, used):
    record(db, used, ["acme", "hooli"], channel="Intercom")
    (entry, *_rest) = beta_history(db, used.beta).entries
    assert describe(entry) == (
        f"{used.beta.owner.display_name} asked 1 account for feedback by Intercom "
        "(1 account left out: asked too recently)"
    )


@pytest.mark.parametrize(
    ("accounts", "channel", "field"),
    [
        (["acme"], "  ", "channel"),
        (["acme"], "x" * 65, "channel"),
        ([], "email", "accounts"),
        (["nobody"], "email", "accounts"),
        (["initech"], "email", "accounts"),
    ],
)
def test_bad_asks_are_refused_and_write_nothing(db, used, unchanged, accounts, channel, field):
    with unchanged(), pytest.raises(Invalid) as refused:
        record(db, used, accounts, channel)
    assert refused.value.details[0]["field"] == field


def test_an_account_outside_the_beta_is_never_asked(db, used, make_account, unchanged):
    make_account("umbrella")
    with unchanged(), pytest.raises(Invalid, match="Not in this beta: umbrella"):
        record(db, used, ["acme", "umbrella"])


def test_only_the_owner_or_an_admin_asks(db, used, make_user, unchanged):
    for someone in (make_user(Role.VIEWER), make_user(Role.PM)):
        with unchanged(), pytest.raises(Forbidden):
            record(db, used, ["acme"], actor=someone)
    assert record(db, used, ["acme"], actor=make_user(Role.ADMIN)).asked


def test_a_draft_has_nobody_to_ask(db, used, unchanged):
    used.beta.state = BetaState.DRAFT
    with unchanged(), pytest.raises(Conflict):
        record(db, used, ["acme"])


def export(db, used) -> asks.AskList:
    return asks.export_asks(
        db,
        Actor(used.beta.owner),
        used.beta,
        "email",
        metric_id=None,
        days=7,
        now=used.now,
        zone=UTCZ,
        cooldown_days=14,
    )


def test_exporting_records_an_ask_for_everyone_on_the_list(db, used):
    found = export(db, used)
    assert ids(found) == ["acme"]
    lines = list(asks.ask_list_csv(found, UTCZ))
    assert lines[0] == "account_id,name,cohort,last_seen_at,events\r\n"
    assert lines[1].startswith("acme,Acme Ltd,early,")
    assert db.scalar(select(func.count()).select_from(Ask).where(Ask.beta_id == used.beta.id)) == 1
    # Exported again, acme is in the cooldown: nobody is left to ask.
    with pytest.raises(Conflict):
        export(db, used)


def test_the_exported_list_never_runs_a_formula(db, used):
    acme = db.scalar(select(Account).where(Account.external_id == "acme"))
    acme.name = "=HYPERLINK(evil)"
    lines = list(asks.ask_list_csv(listed(db, used), UTCZ))
    assert lines[1].startswith("acme,'=HYPERLINK(evil),early,")
