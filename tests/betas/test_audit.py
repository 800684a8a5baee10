"""How the audit trail reads: one sentence an action, with a fallback, and long values cut."""

import ast
from pathlib import Path

import pytest

from betas import audit
from betas.models import ApiToken, AuditEntry, User

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("betas", "cohorts", "usage", "feedback", "shipcall")
PAT = User(email="pat@example.com", name="Pat")


def entry(action: str, object_id: str = "inbox-reports", user=PAT, token=None, **details):
    return AuditEntry(action=action, object_id=object_id, user=user, token=token, details=details)


def recorded_actions() -> set[str]:
    """Every action that a record(...) call in the packages can write."""
    actions = set()
    for path in (p for package in PACKAGES for p in ROOT.glob(f"{package}/**/*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "record":
                actions |= {
                    n.value
                    for n in ast.walk(node.args[2])
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                }
    return actions


def test_every_action_recorded_today_reads_as_a_sentence():
    actions = recorded_actions()
    assert {
        "beta.launched",
        "member.opted_out",
        "user.deactivated",
        "member.declined",
        "feedback.logged",
    } <= actions
    assert sorted(actions - set(audit.SENTENCES)) == []


@pytest.mark.parametrize(
    ("said", "action", "object_id", "details"),
    [
        (
            "Pat changed the problem from “Slow answers.” to “Slow first answers.”",
            "beta.updated",
            "inbox-reports",
            {"changes": {"problem": ["Slow answers.", "Slow first answers."]}},
        ),
        (
            "Pat changed the name from “Old” to “New”, set the customer outcome to “Faster” "
            "and changed the risk from low to high",
            "beta.updated",
            "inbox-reports",
            {
                "changes": {
                    "name": ["Old", "New"],
                    "customer_outcome": ["", "Faster"],
                    "risk": ["low", "high"],
                }
            },
        ),
        (
            "Pat cleared the business outcomes (it was retention, revenue)",
            "beta.updated",
            "inbox-reports",
            {"changes": {"business_outcomes": [["retention", "revenue"], []]}},
        ),
        (
            "Pat launched the beta, to decide by 2026-12-31",
            "beta.launched",
            "inbox-reports",
            {"deadline": "2026-12-31"},
        ),
        (
            "Pat extended the deadline from 2026-12-31 to 2027-01-15: Two calls left",
            "beta.extended",
            "inbox-reports",
            {"old": "2026-12-31", "new": "2027-01-15", "reason": "Two calls left"},
        ),
        ("Pat opted out acme-42", "member.opted_out", "acme-42", {"old": "active", "reason": ""}),
        (
            "Pat opted out acme-42: moved to a competitor",
            "member.opted_out",
            "acme-42",
            {"old": "active", "reason": "moved to a competitor"},
        ),
        (
            "Pat deleted the draft beta old-idea (“Old idea”)",
            "beta.deleted",
            "old-idea",
            {"name": "Old idea"},
        ),
        (
            "Pat invited acme-42 to early: asked for reports twice",
            "member.enrolled",
            "acme-42",
            {"cohort": "early", "status": "invited", "reason": "asked for reports twice"},
        ),
        (
            "Pat moved acme-42 from early to wave-2",
            "member.moved",
            "acme-42",
            {"old": "early", "new": "wave-2", "reason": ""},
        ),
        (
            "Pat drew a random sample of 1 account for wave-2 from a pool of 1,204 accounts "
            "(seed 7)",
            "cohort.sampled",
            "wave-2",
            {"seed": 7, "size": 1, "pool_size": 1204},
        ),
        (
            "Pat added the metric “Weekly use”: at least 40% of enrolled accounts",
            "metric.added",
            "3",
            {"name": "Weekly use", "target": "at least 40% of enrolled accounts"},
        ),
    ],
)
def test_an_entry_reads_as_a_sentence(said, action, object_id, details):
    assert audit.describe(entry(action, object_id, **details)) == said


def test_the_sentence_names_the_token_or_shipcall_itself():
    token = ApiToken(name="ci")
    assert (
        audit.describe(entry("member.notified", "acme-42", token=token))
        == "Pat (through the API token “ci”) marked acme-42 as notified"
    )
    assert (
        audit.describe(entry("user.created", "ada@example.com", user=None, role="admin"))
        == "Shipcall added the user ada@example.com as admin"
    )


def test_long_values_are_shortened():
    long = "Support teams cannot see how fast they answer, " * 20
    said = audit.describe(entry("beta.updated", changes={"problem": [long, "Short."]}))
    old = said[said.index("“") + 1 : said.index("”")]
    assert len(old) == audit.SHOWN_MAX and old.endswith("…")
    assert said.endswith("to “Short.”")


def test_an_unknown_action_still_reads():
    said = audit.describe(entry("beta.frozen", reason="A long pause", until_date="2027-01-01"))
    assert (
        said == "Pat: beta frozen, on inbox-reports (reason: A long pause; until date: 2027-01-01)"
    )
