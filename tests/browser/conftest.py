"""Browser fixtures: Debian's Chromium through Playwright, and Shipcall served on 127.0.0.1."""

import threading
from pathlib import Path
from typing import NamedTuple

import pytest
from alembic import command
from werkzeug.serving import make_server

from betas.auth.users import create_user
from betas.db import alembic_config
from tests.browser.helpers import expect
from tests.helpers import CHEAP_HASH, PASSWORD, make_app

try:
    from playwright.sync_api import sync_playwright
except ImportError as exc:  # the `browser` fixture skips, saying why
    playwright_import_error: ImportError | None = exc
else:
    playwright_import_error = None

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class LiveServer(NamedTuple):
    """The app being served, and the address to reach it at."""

    app: object
    url: str


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} does not exist: install Debian's chromium package")
    if playwright_import_error is not None:
        pytest.skip(f"playwright cannot be imported: {playwright_import_error}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def live(scratch_database_url):
    """Serve Shipcall from a freshly migrated scratch database on a free port of 127.0.0.1."""
    command.upgrade(alembic_config(scratch_database_url), "head")
    app = make_app(scratch_database_url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-shipcall", daemon=True)
    thread.start()
    yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions["shipcall.db"].engine.dispose()  # so a scratch PostgreSQL database can go


@pytest.fixture
def page(browser, live):
    """Open a fresh browser context that may reach the live server and nothing else."""
    context = browser.new_context(base_url=live.url)
    context.set_default_timeout(5_000)

    def keep_local(route):
        if route.request.url.startswith(live.url + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", keep_local)
    yield context.new_page()
    context.close()


@pytest.fixture
def sign_in(live, page):
    """Create a user on the live server and sign in as them in the browser."""

    def as_user(email: str, role, name: str = "Pat"):
        with live.app.extensions["shipcall.db"].session() as session:
            user = create_user(session, email, PASSWORD, role, name=name, hash_method=CHEAP_HASH)
            session.commit()
        page.goto("/sign-in")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Betas")).to_be_visible()
        return user

    return as_user
