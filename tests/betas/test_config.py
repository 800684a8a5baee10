"""Settings come from SHIPCALL_* variables; the secret key is generated once, owner-only."""

import os
import stat

import pytest

from betas.auth import users
from betas.config import ConfigError, Settings, SmtpServer, instance_secret_key
from betas.models import Role
from tests.helpers import CHEAP_HASH, PASSWORD


def test_defaults_when_the_environment_is_empty(tmp_path):
    settings = Settings.from_env({}, secret_key="k")
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("instance/shipcall.db")
    assert (settings.port, settings.timezone, settings.max_extensions) == (5000, "UTC", 2)
    assert settings.debug is False


def test_every_variable_is_read():
    settings = Settings.from_env(
        {
            "SHIPCALL_DATABASE_URL": "postgresql://postgres@127.0.0.1/x",
            "SHIPCALL_SECRET_KEY": "s3cret",
            "SHIPCALL_PORT": "8080",
            "SHIPCALL_TIMEZONE": "Europe/Dublin",
            "SHIPCALL_MAX_EXTENSIONS": "5",
            "SHIPCALL_DEBUG": "1",
        }
    )
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1/x"
    assert settings.secret_key == "s3cret"
    assert (settings.port, settings.timezone, settings.max_extensions) == (8080, "Europe/Dublin", 5)
    assert settings.debug is True


def test_a_bad_number_or_zone_is_refused_with_its_name():
    with pytest.raises(ConfigError, match="SHIPCALL_PORT"):
        Settings.from_env({"SHIPCALL_PORT": "eighty"}, secret_key="k")
    with pytest.raises(ConfigError, match="SHIPCALL_TIMEZONE"):
        Settings.from_env({"SHIPCALL_TIMEZONE": "Mars/Olympus"}, secret_key="k").validate()


def test_unknown_overrides_are_refused():
    with pytest.raises(ConfigError, match="colour"):
        Settings.from_env({}, secret_key="k", colour="blue")


def test_secret_key_is_generated_once_and_readable_by_its_owner_only(tmp_path):
    first = instance_secret_key(tmp_path)
    assert len(first) >= 40
    assert instance_secret_key(tmp_path) == first
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_passwords_are_hashed_strongly_unless_a_setting_says_otherwise(db):
    assert Settings.from_env({}, secret_key="k").password_hash == "scrypt"
    cheap = Settings.from_env({"SHIPCALL_PASSWORD_HASH": "pbkdf2:sha256:1"}, secret_key="k")
    assert cheap.password_hash == "pbkdf2:sha256:1"
    user = users.create_user(db, "strong@example.com", "correct horse battery", Role.VIEWER)
    assert user.password_hash.startswith("scrypt:")


def test_an_unknown_password_hash_method_is_refused():
    with pytest.raises(ConfigError, match="SHIPCALL_PASSWORD_HASH"):
        Settings.from_env({"SHIPCALL_PASSWORD_HASH": "md5"}, secret_key="k").validate()


def test_the_pages_and_commands_hash_with_the_apps_setting(
    db, runner, client, make_user, login, post
):
    login(make_user(Role.ADMIN))
    post(
        "/admin/users",
        {
            "email": "page@example.com",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "role": "viewer",
        },
    )
    result = runner.invoke(
        args=["users", "create", "cli@example.com", "--role", "pm", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    for email in ("page@example.com", "cli@example.com"):
        assert users.find_user(db, email).password_hash.startswith(CHEAP_HASH + "$")


def test_feedback_types_are_the_guides_unless_set_and_are_checked():
    assert "blocker" in Settings.from_env({}, secret_key="k").feedback_types
    settings = Settings.from_env({"SHIPCALL_FEEDBACK_TYPES": "bug, idea ,praise"}, secret_key="k")
    settings.validate()
    assert settings.feedback_types == ("bug", "idea", "praise")
    for raw in ("Bug,idea", "bug,,idea", "bug,bug", "a-b"):
        with pytest.raises(ConfigError, match="SHIPCALL_FEEDBACK_TYPES"):
            Settings.from_env({"SHIPCALL_FEEDBACK_TYPES": raw}, secret_key="k").validate()


def test_the_deadline_and_mail_settings_default_and_are_read():
    defaults = Settings.from_env({}, secret_key="k")
    assert (defaults.max_extension_days, defaults.smtp, defaults.mail_from) == (
        30,
        None,
        "shipcall@localhost",
    )
    assert defaults.public_url == "http://127.0.0.1:5000"
    settings = Settings.from_env(
        {
            "SHIPCALL_MAX_EXTENSION_DAYS": "14",
            "SHIPCALL_SMTP_URL": "smtp://mailer:p%40ss@mail.example.com:2525",
            "SHIPCALL_MAIL_FROM": "shipcall@example.com",
            "SHIPCALL_BASE_URL": "https://shipcall.example.com/",
        },
        secret_key="k",
    )
    settings.validate()
    assert settings.max_extension_days == 14
    assert settings.smtp == SmtpServer("mail.example.com", 2525, False, "mailer", "p@ss")
    assert settings.mail_from == "shipcall@example.com"
    assert settings.public_url == "https://shipcall.example.com"


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("smtp://mail.example.com", SmtpServer("mail.example.com", 587, False)),
        ("smtps://mail.example.com", SmtpServer("mail.example.com", 465, True)),
        ("smtps://u:pw@127.0.0.1:4650", SmtpServer("127.0.0.1", 4650, True, "u", "pw")),
        (
            "smtp://only-user@mail.example.com:25",
            SmtpServer("mail.example.com", 25, False, "only-user"),
        ),
    ],
)
def test_the_smtp_url_says_where_how_and_as_whom(url, server):
    assert SmtpServer.from_url(url) == server


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "mail.example.com:587",
        "smtp://",
        "smtp://:pw@mail.example.com",
        "smtp://u:hunter2@mail.example.com:port",
    ],
)
def test_an_unusable_smtp_url_is_refused_without_repeating_it(url):
    with pytest.raises(ConfigError, match="SHIPCALL_SMTP_URL") as refused:
        Settings.from_env({"SHIPCALL_SMTP_URL": url}, secret_key="k").validate()
    assert "hunter2" not in str(refused.value) and "pw" not in str(refused.value)


def test_the_smtp_password_is_never_shown_in_the_settings():
    settings = Settings.from_env({"SHIPCALL_SMTP_URL": "smtp://u:hunter2@h"}, secret_key="k")
    assert "hunter2" not in repr(settings) and "hunter2" not in repr(settings.smtp)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SHIPCALL_MAX_EXTENSION_DAYS": "0"}, "SHIPCALL_MAX_EXTENSION_DAYS"),
        ({"SHIPCALL_MAIL_FROM": "shipcall"}, "SHIPCALL_MAIL_FROM"),
        ({"SHIPCALL_BASE_URL": "shipcall.example.com"}, "SHIPCALL_BASE_URL"),
    ],
)
def test_bad_deadline_and_mail_settings_are_refused_with_their_name(env, name):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env, secret_key="k").validate()


def test_the_ask_cooldown_is_14_days_unless_a_setting_says_otherwise():
    assert Settings.from_env({}, secret_key="k").ask_cooldown_days == 14
    settings = Settings.from_env({"SHIPCALL_ASK_COOLDOWN_DAYS": "0"}, secret_key="k")
    assert settings.ask_cooldown_days == 0
    settings.validate()
    with pytest.raises(ConfigError, match="SHIPCALL_ASK_COOLDOWN_DAYS"):
        Settings.from_env({"SHIPCALL_ASK_COOLDOWN_DAYS": "-1"}, secret_key="k").validate()
    with pytest.raises(ConfigError, match="SHIPCALL_ASK_COOLDOWN_DAYS"):
        Settings.from_env({"SHIPCALL_ASK_COOLDOWN_DAYS": "two weeks"}, secret_key="k")
