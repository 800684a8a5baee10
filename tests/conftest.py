"""Fixtures: the app on a migrated database, a session rolled back after each test, factories.

The suite runs on a temporary SQLite file by default, and on PostgreSQL with
`pytest --database-url postgresql://...` (what `make test` does when SHIPCALL_TEST_POSTGRES_URL is
set). Tests that need their own empty database (migrations, the browser) get a scratch one.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import replace
from datetime import date, timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from betas.audit import Actor
from betas.auth.tokens import create_token
from betas.auth.users import create_user
from betas.config import normalize_database_url
from betas.db import alembic_config
from betas.models import Beta, BetaState, MetricStage, MetricUnit, Risk, Role, SuccessMetric
from cohorts.models import Account, Cohort, CohortKind
from feedback.sheets import Sheets
from tests.fakes.sheets import FakeSheets, service_account_key
from tests.helpers import (
    CHEAP_HASH,
    PASSWORD,
    WEEKLY_USE_RULE,
    csrf_token,
    is_postgres,
    make_app,
    snapshot,
)

# The SMTP server's fixtures, for the mail tests of every package.
from tests.smtp_server import certificate, smtp_server  # noqa: E402, F401


def pytest_addoption(parser):
    parser.addoption(
        "--database-url",
        default=None,
        help="run against this database (e.g. PostgreSQL) instead of a temporary SQLite file",
    )


@pytest.fixture(scope="session")
def database_url(request, tmp_path_factory) -> str:
    url = request.config.getoption("--database-url")
    if url:
        return normalize_database_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'shipcall.db'}"


def wipe(url: str) -> None:
    """Empty a database completely, so migrations start from nothing."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if is_postgres(url):
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            names = conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
            for (name,) in list(names):
                conn.execute(text(f'DROP TABLE "{name}"'))
    engine.dispose()


@pytest.fixture
def scratch_database_url(database_url, tmp_path):
    """Yield an empty database of the suite's kind, dropped afterwards."""
    if not is_postgres(database_url):
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"shipcall_scratch_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def app(database_url):
    wipe(database_url)
    command.upgrade(alembic_config(database_url), "head")
    app = make_app(database_url)
    yield app
    app.extensions["shipcall.db"].engine.dispose()


@pytest.fixture
def db(app):
    """Yield the test's session; what it and the requests write is rolled back afterwards."""
    database = app.extensions["shipcall.db"]
    connection = database.engine.connect()
    outer = connection.begin()
    database.bind_sessions(connection, join_transaction_mode="create_savepoint")
    session = database.session()
    yield session
    session.close()
    outer.rollback()
    connection.close()
    database.bind_sessions(database.engine)


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def runner(app, db):
    return app.test_cli_runner()


# Factories


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 10_000))

    def make(role: Role | str = Role.PM, email: str | None = None, password: str = PASSWORD):
        email = email or f"{Role(role).value}{next(counter)}@example.com"
        return create_user(
            db,
            email,
            password,
            Role(role),
            name=email.split("@")[0].title(),
            hash_method=CHEAP_HASH,
        )

    return make


@pytest.fixture
def make_beta(db, make_user):
    counter = iter(range(1, 10_000))

    def make(
        owner=None,
        key: str | None = None,
        state: BetaState = BetaState.DRAFT,
        deadline: date | None = None,
        framed: bool = True,
        **values,
    ) -> Beta:
        beta = Beta(
            key=key or f"beta-{next(counter)}",
            name=values.pop("name", "Inbox reports"),
            owner=owner or make_user(Role.PM),
            state=state,
            decision_deadline=deadline or date.today() + timedelta(days=30),
            **values,
        )
        if framed:
            beta.problem = beta.problem or "Teams cannot see how fast they answer."
            beta.learning_goals = beta.learning_goals or "Do teams open the new reports weekly?"
            beta.metrics.append(
                SuccessMetric(
                    name="Weekly use",
                    stage=MetricStage.ADOPTION,
                    target=40,
                    unit=MetricUnit.PERCENT,
                    rule=WEEKLY_USE_RULE,
                )
            )
        db.add(beta)
        db.flush()
        return beta

    return make


@pytest.fixture
def make_token(db, make_user):
    def make(user=None, scopes=("betas:read", "betas:write")) -> str:
        user = user or make_user(Role.PM)
        _token, secret = create_token(db, "test token", scopes, user, Actor(user))
        return secret

    return make


@pytest.fixture
def bearer(make_token):
    """Make Authorization headers with a fresh token for a user and scopes."""

    def headers(user=None, scopes=("betas:read", "betas:write")) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(user, scopes)}"}

    return headers


@pytest.fixture
def make_account(db):
    counter = iter(range(1, 100_000))

    def make(external_id: str | None = None, name: str | None = None, **attributes) -> Account:
        number = next(counter)
        account = Account(
            external_id=external_id or f"acct-{number}",
            name=name or f"Account {number}",
            attributes=attributes,
        )
        db.add(account)
        db.flush()
        return account

    return make


@pytest.fixture
def running_beta(make_beta):
    """Return a running low-risk beta (pass risk=Risk.HIGH for invitations)."""

    def make(risk: Risk = Risk.LOW, **values):
        return make_beta(state=BetaState.RUNNING, risk=risk, **values)

    return make


@pytest.fixture
def make_cohort(db):
    def make(beta, slug: str = "early", kind: CohortKind = CohortKind.EARLY_ADOPTERS) -> Cohort:
        cohort = Cohort(beta=beta, slug=slug, name=slug.replace("-", " ").title(), kind=kind)
        db.add(cohort)
        db.flush()
        return cohort

    return make


# The spreadsheet: a fake Sheets server, a service account's key, settings pointing at both


@pytest.fixture(scope="session")
def fake_server():
    with FakeSheets() as fake:
        yield fake


@pytest.fixture
def fake(fake_server):
    """Return the fake Sheets server, emptied: no spreadsheets, faults or counted requests."""
    fake_server.reset()
    return fake_server


@pytest.fixture(scope="session")
def key_file(fake_server, tmp_path_factory):
    return service_account_key(fake_server, tmp_path_factory.mktemp("google"))


@pytest.fixture
def sheet_settings(app, fake, key_file):
    """Configure the app for the fake server: short timeouts, few tries, tiny waits."""
    before = app.config["SHIPCALL"]
    app.config["SHIPCALL"] = replace(
        before,
        google_credentials=str(key_file),
        sheets_api_url=fake.url,
        sheets_timeout=0.5,
        sheets_attempts=3,
        sheets_backoff=0.001,
        base_url="https://shipcall.example",
    )
    yield app.config["SHIPCALL"]
    app.config["SHIPCALL"] = before


@pytest.fixture
def sheets(sheet_settings):
    return Sheets.from_settings(sheet_settings)


# Signing in through the pages


@pytest.fixture
def login(client):
    def sign_in(user, password: str = PASSWORD):
        response = client.post(
            "/sign-in",
            data={"email": user.email, "password": password, "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return sign_in


@pytest.fixture
def post(client):
    """POST a form with a valid CSRF token, as a browser would."""

    def send(path: str, data: dict | None = None, **kwargs):
        token = csrf_token(client, kwargs.pop("token_from", "/"))
        return client.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)

    return send


# Proving what a request did to the database


@pytest.fixture
def count_queries(db):
    """Count the SQL statements that a block runs.

    Use it as a context manager: after the block, the counter it gave holds the number in `n`.
    List pages prove with it that their number of statements does not grow with their rows.
    """

    class Counter:
        n = 0

    @contextlib.contextmanager
    def counting():
        counter = Counter()

        def count(*_args):
            counter.n += 1

        bind = db.get_bind()
        event.listen(bind, "before_cursor_execute", count)
        try:
            yield counter
        finally:
            event.remove(bind, "before_cursor_execute", count)

    return counting


@pytest.fixture
def unchanged(db):
    """Assert that a block, such as a refused request, wrote nothing to the database."""

    @contextlib.contextmanager
    def check():
        before = snapshot(db)
        yield
        assert snapshot(db) == before, "a refused request changed the database"

    return check
