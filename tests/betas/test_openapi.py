"""The OpenAPI document: each operation's scope, its errors with their codes, the import items.

The operations and their scopes are read from the README's table, so that the README, the
document and what the API answers cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from betas.auth import tokens
from betas.models import Role
from shipcall.app import MAX_REQUEST_BYTES

API = "/api/v1"
README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/\S*)` \| `([a-z]+:[a-z]+)` \|")
CODE = re.compile(r"^- `([a-z_]+)`: (\S.*)$", re.MULTILINE)
# A body each operation takes, so that a request with it gets past the schema to the beta.
BODIES = {
    ("POST", "/betas"): {"key": "probe", "name": "Probe"},
    ("PATCH", "/betas/{key}"): {},
    ("POST", "/betas/{key}/metrics"): {
        "name": "Weekly use",
        "stage": "adoption",
        "target": 40,
        "unit": "percent",
    },
    ("PATCH", "/betas/{key}/metrics/{metric_id}"): {},
    ("POST", "/betas/{key}/extensions"): {"new_deadline": "2099-01-01", "reason": "More time."},
    ("POST", "/betas/{key}/decision"): {
        "outcome": "no_ship",
        "rationale": "Nobody used it.",
        "answers": {"solved": "No.", "replaces_existing": "No.", "marketing": "No."},
    },
    ("POST", "/accounts"): {"accounts": []},
    ("POST", "/conversations"): {"conversations": []},
    ("POST", "/betas/{key}/adopter-search"): {"query": "export"},
    ("POST", "/betas/{key}/problem-searches"): {"query": "export"},
    ("POST", "/betas/{key}/cohorts"): {"slug": "wave-1", "name": "Wave 1", "kind": "manual"},
    ("POST", "/betas/{key}/cohorts/{slug}/members"): {"accounts": ["acme"], "reason": "Asked."},
    ("POST", "/betas/{key}/cohorts/{slug}/sample"): {"size": 1},
    ("PUT", "/betas/{key}/members/{account}"): {"cohort": "wave-1"},
    ("DELETE", "/betas/{key}/members/{account}"): {"reason": "Asked to leave."},
    ("POST", "/events"): {"events": []},
    ("POST", "/betas/{key}/feedback"): {"account": "acme", "original": "Where is export?"},
    ("PATCH", "/feedback/{item_id}"): {"summary": "Export"},
    ("POST", "/betas/{key}/asks"): {"accounts": ["acme"], "channel": "email"},
    ("PUT", "/betas/{key}/sheet"): {"spreadsheet": "1AbCdEfGhIjKlMnOpQrStUvWxYz"},
    ("POST", "/betas/{key}/feedback/imports"): {"items": []},
}
# The imports that take a list of items: a list one item too long is too large, whatever its size.
ITEM_LISTS = {
    "/accounts": "accounts",
    "/conversations": "conversations",
    "/betas/{key}/feedback/imports": "items",
}
# The refusals of the rules, beyond those of every token and body, that an operation answers.
RULES = {
    ("POST", "/betas"): {409: {"conflict"}},
    ("PATCH", "/betas/{key}"): {409: {"conflict"}},
    ("DELETE", "/betas/{key}"): {409: {"conflict"}},
    ("POST", "/betas/{key}/launch"): {409: {"conflict", "launch_refused"}},
    ("PATCH", "/betas/{key}/metrics/{metric_id}"): {409: {"conflict"}},
    ("POST", "/betas/{key}/extensions"): {409: {"extension_refused"}},
    ("POST", "/betas/{key}/decision"): {409: {"beta_not_running", "blockers_open", "not_measured"}},
    ("POST", "/accounts"): {409: {"import_clashed"}, 413: {"too_large"}, 422: {"import_failed"}},
    ("POST", "/conversations"): {
        409: {"import_clashed"},
        413: {"too_large"},
        422: {"import_failed"},
    },
    ("POST", "/betas/{key}/adopter-search"): {400: {"invalid_query"}},
    ("POST", "/betas/{key}/problem-searches"): {400: {"invalid_query"}, 409: {"conflict"}},
    ("POST", "/betas/{key}/cohorts"): {409: {"beta_not_running", "beta_overdue", "conflict"}},
    ("POST", "/betas/{key}/cohorts/{slug}/members"): {409: {"beta_not_running", "beta_overdue"}},
    ("POST", "/betas/{key}/cohorts/{slug}/sample"): {
        409: {
            "beta_not_running",
            "beta_overdue",
            "not_a_random_sample",
            "seed_fixed",
            "pool_too_small",
        }
    },
    ("PUT", "/betas/{key}/members/{account}"): {
        409: {"beta_not_running", "beta_overdue", "opted_out"}
    },
    ("GET", "/betas/{key}/feedback"): {422: {"validation_failed"}},
    ("POST", "/betas/{key}/feedback"): {409: {"conflict"}},
    ("PATCH", "/feedback/{item_id}"): {404: {"not_found"}},
    ("GET", "/betas/{key}/who-to-ask"): {422: {"validation_failed"}},
    ("POST", "/betas/{key}/asks"): {409: {"conflict"}},
    ("PUT", "/betas/{key}/sheet"): {409: {"conflict"}},
    ("POST", "/betas/{key}/feedback/imports"): {
        409: {"conflict"},
        413: {"too_large"},
        422: {"import_failed"},
    },
}


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


def codes(document, method: str, path: str) -> dict[int, set[str]]:
    """Return each error status the operation documents, with the codes its description lists."""
    out = {}
    for status, response in operation(document, method, path)["responses"].items():
        if status.isdigit() and int(status) >= 400:
            out[int(status)] = {code for code, _when in CODE.findall(response["description"])}
    return out


def schema(document, ref: dict) -> dict:
    return document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


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
    assert scope in tokens.SCOPES
    assert operation(document, method, path)["security"] == [{"bearer": [scope]}]


def test_no_operation_inherits_a_security_requirement(document):
    assert "security" not in document


def test_the_health_check_needs_no_token(client, document):
    assert operation(document, "GET", "/health")["security"] == []
    assert "401" not in operation(document, "GET", "/health")["responses"]
    assert client.get(f"{API}/health").status_code == 200


@pytest.mark.parametrize(("method", "path", "scope"), OPERATIONS, ids=IDS)
def test_each_operation_documents_the_errors_it_answers(document, method, path, scope):
    documented = codes(document, method, path)
    expected: dict[int, set[str]] = {401: {"unauthorized"}, 403: {"forbidden"}}
    if "{key}" in path:
        expected[404] = {"not_found"}
    takes_body = "requestBody" in operation(document, method, path)
    assert takes_body == ((method, path) in BODIES), "BODIES has a body for each that takes one"
    if takes_body:
        expected[400] = {"malformed_json", "unknown_field"}
        expected[413] = {"too_large"}
        expected[422] = {"validation_failed"}
    for status, listed in RULES.get((method, path), {}).items():
        expected[status] = expected.get(status, set()) | listed
    for status, listed in expected.items():
        assert status in documented, f"{method} {path} does not document {status}"
        assert listed <= documented[status], f"{method} {path} {status}"
    assert (
        f"The token lacks the scope {scope}."
        in (operation(document, method, path)["responses"]["403"]["description"])
    )


def test_each_error_response_has_the_error_shape_and_says_when_each_code_happens(document):
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            if method == "parameters":
                continue
            for status, response in op["responses"].items():
                if not status.isdigit() or int(status) < 400:
                    continue
                content = response["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, (method, path, status)
                listed = CODE.findall(response["description"])
                assert listed, (method, path, status)
                assert all(len(when) > 10 for _code, when in listed)


def test_the_error_schema_is_the_one_the_api_answers_with(client, document):
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    body = schema(document, error["properties"]["error"])
    assert set(body["properties"]) == {"code", "message", "details"}
    detail = schema(document, body["properties"]["details"]["items"])
    assert set(detail["properties"]) == {"field", "message"}
    answered = client.get(f"{API}/betas").get_json()
    assert set(answered) == {"error"}
    assert set(answered["error"]) == set(body["properties"])


def test_the_bodies_limit_is_the_servers(document):
    described = operation(document, "POST", "/betas")["responses"]["413"]["description"]
    assert f"{MAX_REQUEST_BYTES // (1024 * 1024)} MB" in described


def test_the_import_items_are_documented_by_their_own_schemas(document):
    def items(path: str, name: str) -> dict:
        body = operation(document, "POST", path)["requestBody"]["content"]["application/json"]
        listed = schema(document, body["schema"])["properties"][name]
        assert listed["type"] == "array"
        assert listed["maxItems"] == 10_000
        return schema(document, listed["items"])

    account = items("/accounts", "accounts")
    assert set(account["properties"]) == {"external_id", "name", "attributes"}
    assert account["required"] == ["external_id"]
    assert account["additionalProperties"] is True  # other keys are attributes too
    assert account["properties"]["attributes"]["type"] == "object"

    conversation = items("/conversations", "conversations")
    assert set(conversation["properties"]) == {
        "external_id",
        "account",
        "created_at",
        "started_at",
        "tags",
        "parts",
    }
    assert set(conversation["required"]) == {"external_id", "account"}
    assert conversation["additionalProperties"] is False
    assert conversation["properties"]["created_at"]["format"] == "date-time"
    part = schema(document, conversation["properties"]["parts"]["items"])
    assert set(part["properties"]) == {"author", "body", "created_at"}
    assert set(part["required"]) == {"author", "created_at"}
    assert part["properties"]["author"]["enum"] == ["customer", "teammate", "bot"]


def example(document, property_: dict, n: int = 0):
    """Return the n-th value of a documented property: each value of an enum in turn."""
    if "$ref" in property_:
        target = schema(document, property_)
        return {name: example(document, p, n) for name, p in target["properties"].items()}
    if "enum" in property_:
        return property_["enum"][n % len(property_["enum"])]
    if property_["type"] == "array":
        return [example(document, property_["items"], i) for i in range(3)]
    if property_["type"] == "object":
        return {"plan": "pro", "seats": 12}
    if property_.get("format") == "date-time":
        return f"2026-10-0{n + 1}T14:30:00Z"
    return "acme" if n == 0 else f"text {n}"


def test_items_with_every_documented_field_import(client, bearer, document):
    headers = bearer(scopes=("data:write",))
    for path, name in (("/accounts", "accounts"), ("/conversations", "conversations")):
        body = operation(document, "POST", path)["requestBody"]["content"]["application/json"]
        listed = schema(document, body["schema"])["properties"][name]
        item = example(document, listed["items"])
        response = client.post(f"{API}{path}", json={name: [item]}, headers=headers)
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.get_json() == {"created": 1, "updated": 0}


# What the API answers is what the document says


@pytest.fixture
def probe(client, bearer, make_user):
    """Send a request to an operation, with a token of `scopes`, on a beta that does not exist."""
    admin = make_user(Role.ADMIN)

    def send(method, path, scopes=tokens.SCOPES, token=True, **kwargs):
        url = API + path.format(
            key="no-such-beta", slug="wave-1", account="acme", metric_id=1, item_id=999_999_999
        )
        headers = bearer(admin, scopes) if token else {}
        return client.open(url, method=method, headers=headers, **kwargs)

    return send


def answered(response) -> tuple[int, str]:
    assert response.is_json, response.get_data(as_text=True)
    return response.status_code, response.get_json()["error"]["code"]


def assert_documented(document, method, path, response) -> None:
    status, code = answered(response)
    assert code in codes(document, method, path).get(status, set()), (method, path, status, code)


@pytest.mark.parametrize(("method", "path", "scope"), OPERATIONS, ids=IDS)
def test_the_token_errors_are_documented(document, probe, method, path, scope):
    others = tuple(s for s in tokens.SCOPES if s != scope)
    body = BODIES.get((method, path))
    for response in (
        probe(method, path, token=False, json=body),
        probe(method, path, scopes=others, json=body),
    ):
        assert response.status_code in (401, 403)
        assert_documented(document, method, path, response)


@pytest.mark.parametrize(
    ("method", "path"),
    [(method, path) for method, path, _scope in OPERATIONS if "{key}" in path],
    ids=[name for name in IDS if "{key}" in name],
)
def test_an_unknown_beta_is_documented(document, probe, method, path):
    response = probe(method, path, json=BODIES.get((method, path)))
    assert response.status_code == 404
    assert_documented(document, method, path, response)


@pytest.mark.parametrize(("method", "path"), list(BODIES), ids=[f"{m} {p}" for m, p in BODIES])
def test_the_body_errors_are_documented(document, probe, method, path):
    body = BODIES[(method, path)]
    items = ITEM_LISTS.get(path)
    too_large = {items: [{}] * 10_001} if items else {**body, "name": "x" * (MAX_REQUEST_BYTES + 1)}
    for response, status in (
        (probe(method, path, data="{", content_type="application/json"), 400),
        (probe(method, path, json={**body, "nope": 1}), 400),
        (probe(method, path, json=[]), 422),
        (probe(method, path, json=too_large), 413),
    ):
        assert response.status_code == status, response.get_data(as_text=True)[:300]
        assert_documented(document, method, path, response)


def test_framing_documents_a_passed_deadline_and_a_cleared_problem(document):
    for method, path in (("POST", "/betas"), ("PATCH", "/betas/{key}")):
        invalid = operation(document, method, path)["responses"]["422"]["description"]
        assert "a draft's decision deadline has passed" in invalid, method
    invalid = operation(document, "PATCH", "/betas/{key}")["responses"]["422"]["description"]
    assert "The problem or learning goals of a launched beta would be cleared." in invalid
