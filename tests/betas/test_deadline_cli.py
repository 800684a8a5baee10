"""The `betas` commands: `extend` (within the limits) and `remind` (sent, printed, or retried)."""

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from betas.models import BetaState, DeadlineExtension, ReminderSent, Role
from tests.helpers import free_port


def days(n: int) -> date:
    return date.today() + timedelta(days=n)


@pytest.fixture
def configure(app, monkeypatch):
    """Run the commands with these settings changed (SMTP, the limits)."""

    def change(**values):
        monkeypatch.setitem(app.config, "SHIPCALL", replace(app.config["SHIPCALL"], **values))

    return change


def rows(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def extend(runner, key, to, reason="Two calls left", user=None):
    return runner.invoke(
        args=["betas", "extend", key, "--to", to.isoformat(), "--reason", reason, "--user", user]
    )


def test_extend_moves_the_deadline_with_its_reason(db, runner, make_beta):
    beta = make_beta(key="late", state=BetaState.RUNNING, deadline=days(-2))
    result = extend(runner, "late", days(14), user=beta.owner.email)
    assert result.exit_code == 0, result.output
    assert result.output == f"The deadline of late moved from {days(-2)} to {days(14)}.\n"
    db.expire_all()
    assert beta.decision_deadline == days(14)
    assert [e.reason for e in beta.extensions] == ["Two calls left"]


def test_extend_past_the_max_days_is_an_error_that_stores_nothing(
    db, runner, make_beta, configure, unchanged
):
    configure(max_extension_days=10)
    beta = make_beta(key="live", state=BetaState.RUNNING, deadline=days(3))
    with unchanged():
        result = extend(runner, "live", days(14), user=beta.owner.email)
    assert result.exit_code == 1
    assert "Error: An extension moves the deadline at most 10 days" in result.output
    assert f"At most 10 days past {days(3)}: {days(13)} or earlier." in result.output
    assert rows(db, DeadlineExtension) == 0


@pytest.mark.parametrize(
    ("reason", "user", "said"),
    [
        ("  ", "owner", "Say why the deadline moves."),
        ("More", "nobody@example.com", "There is no user with the email nobody@example.com."),
        ("More", "another pm", "Only the beta's owner or an admin can change it."),
    ],
)
def test_extend_refusals_store_nothing(
    db, runner, make_beta, make_user, unchanged, reason, user, said
):
    beta = make_beta(key="live", state=BetaState.RUNNING, deadline=days(3))
    email = {"owner": beta.owner.email, "another pm": make_user(Role.PM).email}.get(user, user)
    with unchanged():
        result = extend(runner, "live", days(10), reason=reason, user=email)
    assert result.exit_code == 1 and said in result.output


def test_remind_without_smtp_prints_what_it_would_send_and_records_nothing(
    db, runner, make_beta, configure
):
    configure(smtp_url="", base_url="https://shipcall.example.com")
    beta = make_beta(key="late", state=BetaState.RUNNING, deadline=days(-1))
    for _run in range(2):
        result = runner.invoke(args=["betas", "remind"])
        assert result.exit_code == 0, result.output
        assert "SHIPCALL_SMTP_URL is not set: nothing is sent and nothing is recorded." in (
            result.output
        )
        assert (
            f"Would send to {beta.owner.email}: Inbox reports: the decision is 1 day overdue"
            in result.output
        )
        assert "https://shipcall.example.com/betas/late/review" in result.output
    assert rows(db, ReminderSent) == 0


def test_remind_sends_once_and_says_so(db, runner, make_beta, configure, smtp_server):
    inbox = smtp_server()
    configure(smtp_url=inbox.url)
    beta = make_beta(key="soon", state=BetaState.RUNNING, deadline=days(1))
    first = runner.invoke(args=["betas", "remind"])
    assert first.exit_code == 0, first.output
    assert first.output == (
        f"Sent to {beta.owner.email}: Inbox reports: the decision is due tomorrow ({days(1)})\n"
    )
    again = runner.invoke(args=["betas", "remind"])
    assert again.output == "No reminder is due today (or another run sent it already).\n"
    assert len(inbox.messages) == 1 and rows(db, ReminderSent) == 1


def test_remind_reports_a_server_that_is_down_and_the_next_run_sends(
    db, runner, make_beta, configure, smtp_server
):
    port = free_port()
    configure(smtp_url=f"smtp://shipcall:s3cret@127.0.0.1:{port}")
    beta = make_beta(key="late", state=BetaState.RUNNING, deadline=days(-4))
    result = runner.invoke(args=["betas", "remind"])
    assert result.exit_code == 1
    assert f"Not sent to {beta.owner.email}: Inbox reports: the decision is 4 days overdue" in (
        result.output
    )
    assert f"Could not reach the mail server 127.0.0.1:{port} as shipcall" in result.output
    assert "Error: 1 reminder could not be sent; the next run tries again." in result.output
    assert "s3cret" not in result.output
    assert rows(db, ReminderSent) == 0
    inbox = smtp_server()
    configure(smtp_url=inbox.url)
    assert runner.invoke(args=["betas", "remind"]).exit_code == 0
    assert [m["To"] for m in inbox.messages] == [beta.owner.email]
