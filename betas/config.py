"""Settings: read once from SHIPCALL_* environment variables when the app is created."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_PATH = PROJECT_ROOT / "instance"
PASSWORD_HASH_METHODS = ("scrypt", "pbkdf2")
# werkzeug's strong method for new password hashes; tests choose a cheap one.
DEFAULT_PASSWORD_HASH = "scrypt"
# What feedback can be, in the guide's words and a few more; a team may name its own.
DEFAULT_FEEDBACK_TYPES = (
    "feature_request",
    "blocker",
    "comprehension",
    "usability",
    "improvement",
    "question",
    "praise",
)
DEFAULT_SHEETS_API_URL = "https://sheets.googleapis.com"
FEEDBACK_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ConfigError(Exception):
    """A setting has a value Shipcall cannot use."""


SMTP_PORTS = {"smtp": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpServer:
    """Where reminders are sent from: SHIPCALL_SMTP_URL taken apart (the password never shown)."""

    host: str
    port: int
    # smtps: TLS from the first byte; smtp: STARTTLS when the server offers it.
    tls: bool
    username: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """Read `smtp://user:password@host:587` or `smtps://...`; refuse anything else."""
        # The message never repeats the URL: it may hold the password.
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ConfigError("SHIPCALL_SMTP_URL: the port is not a number") from exc
        if parts.scheme not in SMTP_PORTS or not parts.hostname:
            raise ConfigError(
                "SHIPCALL_SMTP_URL: give smtp://user:password@host:587 (STARTTLS when offered) "
                "or smtps://user:password@host:465 (TLS from the start)"
            )
        if parts.password is not None and not parts.username:
            raise ConfigError("SHIPCALL_SMTP_URL: a password needs a user name before it")
        return cls(
            host=parts.hostname,
            port=port or SMTP_PORTS[parts.scheme],
            tls=parts.scheme == "smtps",
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )


@dataclass(frozen=True)
class Settings:
    """Everything Shipcall can be told by its environment."""

    database_url: str
    secret_key: str
    port: int = 5000
    timezone: str = "UTC"
    max_extensions: int = 2
    max_extension_days: int = 30
    debug: bool = False
    password_hash: str = DEFAULT_PASSWORD_HASH
    feedback_types: tuple[str, ...] = DEFAULT_FEEDBACK_TYPES
    ask_cooldown_days: int = 14
    # Holds the SMTP password: kept out of the settings' repr, so a logged Settings shows none.
    smtp_url: str = field(default="", repr=False)
    mail_from: str = "shipcall@localhost"
    # Where people reach Shipcall: mail and the sheet's link column have no request to build
    # their links from.
    base_url: str = ""

    # The spreadsheet: a service-account key file (none: no sheet sync), where the API answers,
    # how long one request may take, how many tries a call gets and how long the first wait is at
    # most, how often a sheet without pending changes is read for people's edits.
    google_credentials: str = ""
    sheets_api_url: str = DEFAULT_SHEETS_API_URL
    sheets_timeout: float = 20.0
    sheets_attempts: int = 5
    sheets_backoff: float = 0.5
    sheets_pull_seconds: int = 60

    @property
    def smtp(self) -> SmtpServer | None:
        """The SMTP server reminders go through, or None when none is configured."""
        return SmtpServer.from_url(self.smtp_url) if self.smtp_url else None

    @property
    def public_url(self) -> str:
        """The address links in mail and the sheet start with: SHIPCALL_BASE_URL, or this port."""
        return (self.base_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone, in which deadlines end and times are shown."""
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Build settings from the environment; tests pass overrides by field name."""
        env = os.environ if environ is None else environ
        names = {f.name for f in fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        values = {
            "database_url": env.get("SHIPCALL_DATABASE_URL")
            or f"sqlite:///{INSTANCE_PATH / 'shipcall.db'}",
            "port": _integer(env, "SHIPCALL_PORT", 5000),
            "timezone": env.get("SHIPCALL_TIMEZONE", "UTC"),
            "max_extensions": _integer(env, "SHIPCALL_MAX_EXTENSIONS", 2),
            "max_extension_days": _integer(env, "SHIPCALL_MAX_EXTENSION_DAYS", 30),
            "debug": env.get("SHIPCALL_DEBUG", "") in {"1", "true", "yes"},
            "password_hash": env.get("SHIPCALL_PASSWORD_HASH") or DEFAULT_PASSWORD_HASH,
            "feedback_types": _names(env, "SHIPCALL_FEEDBACK_TYPES", DEFAULT_FEEDBACK_TYPES),
            "ask_cooldown_days": _integer(env, "SHIPCALL_ASK_COOLDOWN_DAYS", 14),
            "smtp_url": env.get("SHIPCALL_SMTP_URL", ""),
            "mail_from": env.get("SHIPCALL_MAIL_FROM") or "shipcall@localhost",
            "base_url": env.get("SHIPCALL_BASE_URL", ""),
            "google_credentials": env.get("SHIPCALL_GOOGLE_CREDENTIALS", ""),
            "sheets_api_url": (env.get("SHIPCALL_SHEETS_API_URL") or DEFAULT_SHEETS_API_URL).rstrip(
                "/"
            ),
            "sheets_timeout": _number(env, "SHIPCALL_SHEETS_TIMEOUT", 20.0),
            "sheets_attempts": _integer(env, "SHIPCALL_SHEETS_ATTEMPTS", 5),
            "sheets_backoff": _number(env, "SHIPCALL_SHEETS_BACKOFF", 0.5),
            "sheets_pull_seconds": _integer(env, "SHIPCALL_SHEETS_PULL_SECONDS", 60),
        }
        values.update(overrides)
        if "secret_key" not in values:
            values["secret_key"] = env.get("SHIPCALL_SECRET_KEY") or instance_secret_key()
        settings = cls(**values)
        return replace(settings, database_url=normalize_database_url(settings.database_url))

    def validate(self) -> None:
        """Refuse settings that would make the app misbehave later."""
        try:
            self.zone  # noqa: B018 - looking the zone up is the check
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"SHIPCALL_TIMEZONE: unknown time zone {self.timezone!r}") from exc
        if self.max_extensions < 0:
            raise ConfigError("SHIPCALL_MAX_EXTENSIONS must be 0 or more")
        if self.max_extension_days < 1:
            raise ConfigError("SHIPCALL_MAX_EXTENSION_DAYS must be 1 or more")
        self.smtp  # noqa: B018 - taking the URL apart is the check
        if "@" not in self.mail_from or any(c in self.mail_from for c in "\r\n"):
            raise ConfigError(f"SHIPCALL_MAIL_FROM: {self.mail_from!r} is not an email address")
        if self.base_url and urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ConfigError(
                "SHIPCALL_BASE_URL: give the address people open Shipcall at, like "
                "https://shipcall.example.com"
            )
        if self.password_hash.partition(":")[0] not in PASSWORD_HASH_METHODS:
            raise ConfigError(
                f"SHIPCALL_PASSWORD_HASH: {self.password_hash!r} is not one of werkzeug's "
                "methods (scrypt[:n:r:p] or pbkdf2[:hash[:iterations]])"
            )
        bad = [t for t in self.feedback_types if not FEEDBACK_TYPE.match(t)]
        if bad or not self.feedback_types:
            raise ConfigError(
                "SHIPCALL_FEEDBACK_TYPES: give a comma-separated list of names in lower-case "
                "letters, digits and underscores (like feature_request,blocker), not "
                + (", ".join(repr(t) for t in bad) or "an empty list")
            )
        if len(set(self.feedback_types)) != len(self.feedback_types):
            raise ConfigError("SHIPCALL_FEEDBACK_TYPES: a type is listed twice")
        if self.ask_cooldown_days < 0:
            raise ConfigError("SHIPCALL_ASK_COOLDOWN_DAYS must be 0 (no cooldown) or more")
        self._validate_sheets()

    def _validate_sheets(self) -> None:
        if self.google_credentials and not Path(self.google_credentials).is_file():
            raise ConfigError(
                f"SHIPCALL_GOOGLE_CREDENTIALS: no file at {self.google_credentials!r} (give the "
                "path of the service account's JSON key, or leave it empty to sync no sheet)"
            )
        if not self.sheets_api_url.startswith(("https://", "http://")):
            raise ConfigError("SHIPCALL_SHEETS_API_URL must start with https:// or http://")
        if self.sheets_timeout <= 0:
            raise ConfigError("SHIPCALL_SHEETS_TIMEOUT must be more than 0 seconds")
        if self.sheets_backoff < 0:
            raise ConfigError("SHIPCALL_SHEETS_BACKOFF must be 0 seconds or more")
        if self.sheets_attempts < 1:
            raise ConfigError("SHIPCALL_SHEETS_ATTEMPTS must be 1 or more")
        if self.sheets_pull_seconds < 1:
            raise ConfigError("SHIPCALL_SHEETS_PULL_SECONDS must be 1 or more")


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from exc


def _names(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    return tuple(part.strip() for part in raw.split(","))


def normalize_database_url(url: str) -> str:
    """Send plain postgresql:// URLs to psycopg 3, the driver Shipcall installs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def instance_secret_key(instance_path: Path = INSTANCE_PATH) -> str:
    """Return the key kept in instance/secret_key, generating it once, owner-readable only.

    Several server processes may start at once: the key is written to a private temporary file and
    linked into place, so exactly one key wins and nobody reads a half-written file.
    """
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    tmp = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
