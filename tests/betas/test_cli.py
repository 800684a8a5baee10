"""The command line: `users`, `tokens` and the `db` migration commands."""

from __future__ import annotations

import hashlib
import re
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.cli import FlaskGroup
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

import betas.db
from betas.auth import users
from betas.models import ApiToken, AuditEntry, Role, User
from tests.helpers import PASSWORD, make_app, token_row

API = "/api/v1"
NEW_PASSWORD = "long enough password"


def create_user(runner, email, role="pm", password=NEW_PASSWORD, *options):
    return runner.invoke(
        args=["users", "create", email, "--role", role, "--password-stdin", *options],
        input=f"{password}\n",
    )


def create_token(runner, *options, name="ci"):
    return runner.invoke(args=["tokens", "create", name, *options])


def users_with(db, email) -> list[User]:
    db.expire_all()
    return list(db.scalars(select(User).where(User.email == email)))


def token_rows(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(ApiToken))


def secret_of(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.rstrip("\n").splitlines()[-1]


@pytest.fixture
def flask_cli(monkeypatch):
    """Run commands as `flask --app wsgi ...` does, printing Alembic's output where Click reads.

    Alembic prints to the sys.stdout it saw at import; the commands' config is pointed at the
    stdout of the moment instead, so the runner captures what they print.
    """
    make_config = betas.db.alembic_config

    def config_printing_here(url):
        config = make_config(url)
        config.stdout = sys.stdout
        return config

    monkeypatch.setattr(betas.db, "alembic_config", config_printing_here)
    # FlaskGroup sets this for the process; monkeypatch removes it again afterwards.
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    group = FlaskGroup(add_default_commands=False, load_dotenv=False, set_debug_flag=False)

    def invoke(runner, *args):
        return runner.invoke(group, list(args))

    return invoke


# users create


def test_users_create_reads_the_password_from_stdin(runner, db):
    result = create_user(runner, "new@example.com", "pm", NEW_PASSWORD, "--name", "  Nia  ")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Created new@example.com (pm)."
    [user] = users_with(db, "new@example.com")
    assert user.role == Role.PM
    assert user.name == "Nia"
    assert user.is_active
    assert check_password_hash(user.password_hash, NEW_PASSWORD)
    assert NEW_PASSWORD not in user.password_hash


def test_users_create_stores_the_email_trimmed_and_lower_case(runner, db):
    result = create_user(runner, "  New.Person@Example.COM ", "admin")
    assert result.exit_code == 0, result.output
    [user] = users_with(db, "new.person@example.com")
    assert user.role == Role.ADMIN


def test_users_create_is_audited(runner, db):
    assert create_user(runner, "new@example.com").exit_code == 0
    db.expire_all()
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.created"))
    assert entry.object_id == "new@example.com"
    assert entry.details == {"role": "pm"}


def test_users_create_prompts_for_the_password_with_a_confirmation(runner, db):
    result = runner.invoke(
        args=["users", "create", "new@example.com", "--role", "viewer"],
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output
    assert "Repeat for confirmation:" in result.output
    assert NEW_PASSWORD not in result.output
    assert "Created new@example.com (viewer)." in result.output
    [user] = users_with(db, "new@example.com")
    assert check_password_hash(user.password_hash, NEW_PASSWORD)


def test_users_create_refuses_a_confirmation_that_differs(runner, db, unchanged):
    with unchanged():
        result = runner.invoke(
            args=["users", "create", "new@example.com", "--role", "pm"],
            input=f"{NEW_PASSWORD}\nanother long password\n",
        )
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert users_with(db, "new@example.com") == []


def test_users_create_refuses_a_taken_email_clearly(runner, db, make_user, unchanged):
    make_user(Role.PM, email="taken@example.com")
    with unchanged():
        result = create_user(runner, "Taken@Example.com", "admin")
    assert result.exit_code != 0
    assert "Error: A user with the email taken@example.com exists already." in result.output
    assert "Traceback" not in result.output
    [user] = users_with(db, "taken@example.com")
    assert user.role == Role.PM


def test_users_create_refuses_a_short_password(runner, db, unchanged):
    with unchanged():
        result = create_user(runner, "new@example.com", "pm", "too short")
    assert result.exit_code != 0
    assert f"at least {users.PASSWORD_MIN} characters" in result.output
    assert users_with(db, "new@example.com") == []


def test_users_create_refuses_an_unknown_role(runner, db, unchanged):
    with unchanged():
        result = create_user(runner, "new@example.com", "owner")
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert users_with(db, "new@example.com") == []


# users list


def test_users_list_shows_everyone_by_email_with_role_and_state(runner, db, make_user):
    make_user(Role.PM, email="bea@example.com")
    gone = make_user(Role.VIEWER, email="cal@example.com")
    make_user(Role.ADMIN, email="ada@example.com")
    gone.is_active = False
    db.flush()
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "ada@example.com\tadmin\tactive\tAda",
        "bea@example.com\tpm\tactive\tBea",
        "cal@example.com\tviewer\tdeactivated\tCal",
    ]


def test_users_list_prints_nothing_without_users(runner):
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    assert result.output == ""


# users setup-link


def test_users_setup_link_prints_a_working_link_while_nobody_exists(app, runner, client):
    result = runner.invoke(args=["users", "setup-link"])
    assert result.exit_code == 0, result.output
    [link] = re.findall(r"\S+/setup\?token=\S+", result.output)
    port = app.config["SHIPCALL"].port
    assert link.startswith(f"http://127.0.0.1:{port}/setup?token=")
    parts = urlsplit(link)
    [token] = parse_qs(parts.query)["token"]
    assert users.setup_token_valid(app.config["SECRET_KEY"], token)
    assert client.get(f"{parts.path}?{parts.query}").status_code == 200


def test_users_setup_link_prints_nothing_once_a_user_exists(runner, make_user, unchanged):
    make_user(Role.VIEWER)
    with unchanged():
        result = runner.invoke(args=["users", "setup-link"])
    assert result.exit_code == 0
    assert result.output == ""


# tokens create


def test_tokens_create_prints_the_token_alone_on_the_last_line_and_it_works(
    runner, client, db, make_user
):
    pm = make_user(Role.PM)
    result = create_token(
        runner, "--scope", "betas:read", "--scope", "betas:write", "--user", pm.email
    )
    secret = secret_of(result)
    assert re.fullmatch(r"shc_[A-Za-z0-9_-]{40,}", secret)
    assert secret not in "\n".join(result.output.splitlines()[:-1])
    assert f"acts as {pm.email} with betas:read betas:write" in result.output
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"{API}/betas", headers=headers).status_code == 200
    response = client.post(f"{API}/betas", json={"key": "cli", "name": "CLI"}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["owner"] == pm.email


def test_tokens_create_acts_as_the_first_admin_by_default(runner, db, make_user):
    make_user(Role.PM)
    first = make_user(Role.ADMIN)
    make_user(Role.ADMIN)
    secret = secret_of(create_token(runner, "--scope", "betas:read"))
    token = token_row(db, secret)
    assert token.user_id == first.id
    assert token.scopes == ["betas:read"]
    assert token.name == "ci"


def test_tokens_create_without_an_admin_or_user_fails(runner, db, make_user, unchanged):
    make_user(Role.PM)
    with unchanged():
        result = create_token(runner, "--scope", "betas:read")
    assert result.exit_code != 0
    assert "Create an admin first" in result.output
    assert token_rows(db) == 0


def test_tokens_create_for_an_unknown_user_fails(runner, db, unchanged):
    with unchanged():
        result = create_token(runner, "--scope", "betas:read", "--user", "nobody@example.com")
    assert result.exit_code != 0
    assert "There is no user with the email nobody@example.com." in result.output
    assert token_rows(db) == 0


def test_tokens_are_stored_only_as_a_hash(runner, db, make_user):
    admin = make_user(Role.ADMIN)
    secret = secret_of(create_token(runner, "--scope", "betas:read", "--user", admin.email))
    db.expire_all()
    [row] = db.execute(select(ApiToken.__table__)).mappings().all()
    for column, value in row.items():
        assert secret not in str(value), column
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(row["prefix"]) and len(row["prefix"]) < len(secret) // 4


@pytest.mark.parametrize("scope", ["betas:admin", "everything", ""])
def test_tokens_create_refuses_an_unknown_scope(runner, db, make_user, scope, unchanged):
    make_user(Role.ADMIN)
    with unchanged():
        result = create_token(runner, "--scope", "betas:read", "--scope", scope)
    assert result.exit_code == 2
    assert "Invalid value for '--scope'" in result.output
    assert token_rows(db) == 0


def test_tokens_create_needs_a_scope(runner, db, make_user, unchanged):
    make_user(Role.ADMIN)
    with unchanged():
        result = create_token(runner)
    assert result.exit_code == 2
    assert "--scope" in result.output
    assert token_rows(db) == 0


def test_a_read_only_cli_token_cannot_write(runner, client, make_user, unchanged):
    pm = make_user(Role.PM)
    secret = secret_of(create_token(runner, "--scope", "betas:read", "--user", pm.email))
    with unchanged():
        response = client.post(
            f"{API}/betas",
            json={"key": "x", "name": "X"},
            headers={"Authorization": f"Bearer {secret}"},
        )
    assert response.status_code == 403


# tokens list and revoke


def test_tokens_list_shows_each_token_with_its_use_and_state(runner, client, db, make_user):
    admin = make_user(Role.ADMIN, email="admin@example.com")
    used = secret_of(create_token(runner, "--scope", "betas:write", name="deploy"))
    secret_of(create_token(runner, "--scope", "betas:read", "--scope", "betas:write", name="bot"))
    revoked = secret_of(create_token(runner, "--scope", "betas:read", name="old"))
    client.post(
        f"{API}/betas", json={"key": "x", "name": "X"}, headers={"Authorization": f"Bearer {used}"}
    )
    assert runner.invoke(args=["tokens", "revoke", str(token_row(db, revoked).id)]).exit_code == 0
    db.expire_all()
    ids = list(db.scalars(select(ApiToken.id).order_by(ApiToken.id)))
    result = runner.invoke(args=["tokens", "list"])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert [line[:4] for line in lines] == [
        [str(ids[0]), "deploy", admin.email, "betas:write"],
        [str(ids[1]), "bot", admin.email, "betas:read betas:write"],
        [str(ids[2]), "old", admin.email, "betas:read"],
    ]
    assert lines[0][4] != "never used" and lines[0][5] == "live"
    assert lines[1][4:] == ["never used", "live"]
    assert lines[2][4:] == ["never used", "revoked"]
    assert all(secret not in result.output for secret in (used, revoked))


def test_tokens_revoke_makes_the_token_401(runner, client, db, make_user, unchanged):
    pm = make_user(Role.PM)
    secret = secret_of(create_token(runner, "--scope", "betas:read", "--user", pm.email))
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"{API}/betas", headers=headers).status_code == 200
    token_id = token_row(db, secret).id
    result = runner.invoke(args=["tokens", "revoke", str(token_id)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Token {token_id} 'ci' is revoked."
    with unchanged():
        response = client.get(f"{API}/betas", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    db.expire_all()
    assert db.get(ApiToken, token_id).revoked_at is not None
    assert (
        db.scalar(
            select(func.count()).where(
                AuditEntry.action == "token.revoked", AuditEntry.object_id == str(token_id)
            )
        )
        == 1
    )


def test_tokens_revoke_of_an_unknown_id_fails(runner, unchanged):
    with unchanged():
        result = runner.invoke(args=["tokens", "revoke", "999999"])
    assert result.exit_code != 0
    assert "There is no API token 999999." in result.output


# db


def test_db_current_shows_the_head_revision(runner, flask_cli):
    result = flask_cli(runner, "db", "current")
    assert result.exit_code == 0, result.output
    assert re.search(r"Rev: \w+ \(head\)", result.output), result.output


def test_db_check_passes_when_the_models_match_the_migrations(runner, flask_cli):
    result = flask_cli(runner, "db", "check")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "No new upgrade operations detected" in result.output


def test_db_commands_migrate_an_empty_database_up_and_down(scratch_database_url, flask_cli):
    app = make_app(scratch_database_url)
    runner = app.test_cli_runner()
    try:
        not_migrated = flask_cli(runner, "db", "check")
        assert not_migrated.exit_code != 0
        assert flask_cli(runner, "db", "upgrade").exit_code == 0
        current = flask_cli(runner, "db", "current")
        assert "(head)" in current.output, current.output
        assert flask_cli(runner, "db", "check").exit_code == 0
        assert create_user(runner, "first@example.com", "admin", PASSWORD).exit_code == 0
        assert flask_cli(runner, "db", "downgrade", "base").exit_code == 0
        assert "(head)" not in flask_cli(runner, "db", "current").output
        assert flask_cli(runner, "db", "check").exit_code != 0
    finally:
        app.extensions["shipcall.db"].engine.dispose()


def test_db_commands_run_through_the_apps_cli_like_users_and_tokens(runner):
    # `users` and `tokens` are AppGroups and run under app.test_cli_runner(); `db` should too.
    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0, result.exception
