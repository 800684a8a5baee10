"""The OpenAPI document: each operation's scope.

The operations and their scopes are read from the README's table, so that the README and the
document cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

API = "/api/v1"
README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/\S*)` \| `([a-z]+:[a-z]+)` \|")
SCOPES = ("betas:read", "betas:write", "members:read", "members:write", "data:write")


def readme_operations() -> list[tuple[str, str, str]]:
    """Return (method, path, scope) for each row of the README's table of endpoints."""
    section = README.read_text(encoding="utf-8").split("## JSON API", 1)[1].split("\n## ", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines() if line.startswith("| `")]
    assert rows and all(rows), "every row of the table reads | `METHOD /path` | `scope` | ..."
    return [row.groups() for row in rows]


OPERATIONS = readme_operations()
IDS = [f"{method} {path}" for method, path, _scope in OPERATIONS]


@pytest.fixture(scope="module")
def document(app):
    response = app.test_client().get(f"{API}/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operation(document, method: str, path: str) -> dict:
    operations = document["paths"].get(API + path)
    assert operations is not None, f"{path} is not in the document"
    assert method.lower() in operations, f"{method} {path} is not in the document"
    return operations[method.lower()]


def test_the_operations_the_readme_leaves_out_need_no_token(document):
    documented = {
        (method.upper(), path.removeprefix(API))
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }
    listed = {(method, path) for method, path, _scope in OPERATIONS}
    assert len(listed) == len(OPERATIONS)
    assert listed <= documented
    assert documented - listed == {("GET", "/health")}
    assert operation(document, "GET", "/health")["security"] == []


@pytest.mark.parametrize(("method", "path", "scope"), OPERATIONS, ids=IDS)
def test_each_operation_requires_the_scope_the_readme_gives(document, method, path, scope):
    assert scope in SCOPES
    assert operation(document, method, path)["security"] == [{"bearer": [scope]}]


def test_no_operation_inherits_a_security_requirement(document):
    assert "security" not in document


def test_the_health_check_needs_no_token(client, document):
    assert operation(document, "GET", "/health")["security"] == []
    assert "401" not in operation(document, "GET", "/health")["responses"]
    assert client.get(f"{API}/health").status_code == 200
