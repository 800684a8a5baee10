"""Helpers that test modules share: the test app, sign-in, the API's error shape, snapshots.

Also an import's mapping page, read as a browser reads it.
"""

from __future__ import annotations

import re
import socket

from sqlalchemy import select
from sqlalchemy.engine import make_url

from betas.auth.tokens import token_digest
from betas.db import UNMAPPED_PREFIXES, Base
from betas.models import ApiToken
from shipcall.app import create_app

# The rule of the metric every framed test beta has: weekly use of the new report.
WEEKLY_USE_RULE = {
    "events": [{"action": "opened", "object": "report"}],
    "at_least": 1,
    "per": "event",
    "window_days": 7,
}
PASSWORD = "correct horse battery staple"
# One iteration: tests create and check many passwords, and the strong default is for production.
CHEAP_HASH = "pbkdf2:sha256:1"
CSRF_INPUT = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'type="hidden" name="csrf_token" value="([^"]+)"'
)


def is_postgres(url: str) -> bool:
    """Tell whether a database URL is PostgreSQL's."""
    return make_url(url).get_backend_name() == "postgresql"


def make_app(url: str, **settings):
    """Create the app on `url` for tests: a fixed secret key and cheap password hashes."""
    settings = {"secret_key": "test-secret-key", "password_hash": CHEAP_HASH, **settings}
    app = create_app({"database_url": url, **settings})
    app.config.update(TESTING=True)
    return app


def csrf_token(client, path: str = "/sign-in") -> str:
    """Return a CSRF token for the client's session, read from a page's form."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_INPUT.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def token_row(db, secret: str) -> ApiToken | None:
    """Return the stored API token for a secret (what Shipcall keeps is its hash)."""
    return db.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(secret)))


def assert_error(response, status: int, code: str) -> dict:
    """Check the API's one error shape and return the error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert set(detail) == {"field", "message"}
        assert isinstance(detail["field"], str) and isinstance(detail["message"], str)
    return error


def fields_of(error: dict) -> list[str]:
    """Return the fields an API error's details name."""
    return [detail["field"] for detail in error["details"]]


# Written by every API request, refused or not, once a minute: a token's use is not a change.
NOT_CHANGES = frozenset({"last_used_at"})


def snapshot(db) -> dict[str, list[tuple]]:
    """Return every row of every table the models map, to compare before and after a request.

    What the session holds but has not written yet is written first: a change the test made, or
    one a refused service call left behind, is part of what is compared.
    """
    db.flush()
    db.expire_all()
    return {
        table.name: [
            tuple(row)
            for row in db.execute(
                select(*(c for c in table.columns if c.name not in NOT_CHANGES)).order_by(
                    *table.primary_key.columns
                )
            )
        ]
        for table in Base.metadata.sorted_tables
        if not table.name.startswith(UNMAPPED_PREFIXES)
    }


def free_port() -> int:
    """Return a port of 127.0.0.1 that nobody listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mapping_of(html: str) -> dict[str, str]:
    """Return the mapping form's values as the browser would post them: hidden, then selected."""
    data = dict(re.findall(r'name="([\w-]+)" type="hidden" value="([^"]*)"', html))
    for name, options in re.findall(r'<select[^>]* name="([\w-]+)">(.*?)</select>', html, re.S):
        data[name] = re.search(r'<option selected value="(\w+)"', options).group(1)
    data.pop("csrf_token")
    return data


def problems_of(html: str) -> list[tuple[str, str, str]]:
    """Return the problems listed on the page: (row, column, message)."""
    if 'id="problems"' not in html:
        return []
    section = html[html.index('id="problems"') :]
    body = section[section.index("<tbody>") : section.index("</tbody>")]
    return [
        tuple(c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def import_button(html: str) -> str:
    """Say whether the Import button is offered: enabled or disabled."""
    button = re.search(r"<button type=\"submit\"( disabled[^>]*)?>Import</button>", html)
    assert button, "no Import button"
    return "disabled" if button.group(1) else "enabled"
