"""Patterns: counts by type, top reasons, repeated questions, open blockers, uncodified items.

Each number is split by cohort kind, with non-members as their own column, and links to the
log filtered to exactly its items.
"""

import re
from html import unescape

import pytest

from betas.audit import Actor
from betas.models import Role
from cohorts.models import CohortKind
from feedback import log, patterns
from feedback.models import FeedbackItem, reason_key
from tests.feedback.helpers import READ_WRITE, TYPES
from tests.helpers import assert_error

API = "/api/v1"


@pytest.mark.parametrize(
    ("reason", "key"),
    [
        ("Export to CSV", "export to csv"),
        ("  export   to\tcsv!! ", "export to csv"),
        ("EXPORT-TO-CSV.", "export to csv"),
        ("export_to_csv?", "export to csv"),
        ("Straße, größer", "strasse grösser"),
        ("…", "…"),
        ("   ", None),
        (None, None),
    ],
)
def test_a_reason_is_folded_without_case_spacing_or_punctuation(reason, key):
    assert reason_key(reason) == key


@pytest.fixture
def sample_member(make_member):
    """Return an account in the beta's random sample."""
    return make_member("globex", "Globex", "sample", CohortKind.RANDOM_SAMPLE)


@pytest.fixture
def said(db, beta, pm):
    """Log an item of the beta from an account (its external id)."""

    def make(account, original="Said.", **codes):
        return log.log(
            db, Actor(pm), beta, account=account, original=original, types=TYPES, **codes
        )

    return make


@pytest.fixture
def heard(said, acme, sample_member, make_account):
    """Log feedback from early adopters, the random sample and a non-member; return the items."""
    make_account("initech", "Initech")  # not a member of the beta
    coded = {"summary": "Wants CSV"}
    return {
        "a1": said("acme", "CSV please", type="feature_request", reason="Export to CSV", **coded),
        "a2": said("acme", "CSV!", type="feature_request", reason="export to csv.", **coded),
        "g1": said("globex", "csv?", type="question", reason="EXPORT-to-CSV", **coded),
        "i1": said("initech", "Where?", type="question", reason="Export to CSV", **coded),
        "q2": said("globex", "How?", type="comprehension", reason="Filters", summary="How"),
        "q3": said("acme", "What?", type="question", reason="filters!", summary="What"),
        "b1": said("acme", "Crash", type="blocker", reason="Big inbox", summary="Crash"),
        "b2": said("globex", "Slow", type="blocker", reason="Big inbox", summary="Slow"),
        "raw": said("initech", "Just words"),
        "half": said("globex", "Half", type="praise"),
    }


def test_patterns_count_each_thing_by_cohort_kind_with_non_members_apart(
    db, beta, pm, heard, count_queries
):
    log.edit(
        db,
        Actor(pm),
        heard["b2"],
        {"blocker_state": "resolved", "resolution": "Faster in 2.3"},
        types=TYPES,
    )

    with count_queries() as statements:
        found = patterns.beta_patterns(db, beta, TYPES)

    assert statements.n == 5
    assert (found.items.counts, found.items.all) == (
        {"early_adopters": 4, "random_sample": 4, "none": 2},
        10,
    )
    by_type = {t.type: t.items for t in found.types}
    assert [t.type for t in found.types] == list(TYPES)
    assert by_type["feature_request"].counts == {"early_adopters": 2}
    assert by_type["question"].counts == {"random_sample": 1, "none": 1, "early_adopters": 1}
    assert by_type["improvement"].all == 0
    top = found.reasons[0]
    assert (top.key, top.reason, top.items.all, top.accounts.all) == (
        "export to csv",
        "Export to CSV",
        4,
        3,
    )
    assert (top.items["early_adopters"], top.accounts["early_adopters"]) == (2, 1)
    assert (top.items["none"], top.items["manual"]) == (1, 0)
    assert [g.key for g in found.reasons] == ["export to csv", "big inbox", "filters"]
    assert (found.reason_count, found.question_count) == (3, 2)
    assert [(q.key, q.items.all, q.accounts.all) for q in found.questions] == [
        ("export to csv", 2, 2),
        ("filters", 2, 2),
    ]  # the export's feature requests are not questions
    assert [b.id for b in found.blockers] == [heard["b1"].id]
    assert found.blockers[0].column == "early_adopters"
    assert found.open_blockers.counts == {"early_adopters": 1}
    assert (found.uncodified.all, found.uncodified.counts) == (2, {"none": 1, "random_sample": 1})


def test_questions_asked_once_are_not_repeated_and_the_export_questions_count_alone(
    db, beta, heard
):
    found = patterns.beta_patterns(db, beta, TYPES)
    questions = {g.key: g for g in found.questions}
    # Two questions said "export to csv" (globex and initech): a repeated question.
    assert questions["export to csv"].items.counts == {"random_sample": 1, "none": 1}
    assert questions["export to csv"].items.filter.questions


def test_the_statements_do_not_grow_with_the_items(db, beta, said, acme, count_queries):
    said("acme", "One", type="question", reason="A", summary="A")
    with count_queries() as few:
        patterns.beta_patterns(db, beta, TYPES)
    for n in range(40):
        said("acme", f"Said {n}", type="blocker", reason=f"Reason {n % 7}", summary="S")
    with count_queries() as many:
        found = patterns.beta_patterns(db, beta, TYPES)
    assert many.n == few.n
    assert len(found.blockers) == 40


def test_a_reason_changed_later_moves_to_its_new_group(db, beta, pm, said, acme):
    item = said("acme", "Hm", type="question", reason="Export", summary="S")
    log.edit(db, Actor(pm), item, {"reason": "  FILTERS?"}, types=TYPES)
    assert item.reason_key == "filters"
    assert [g.key for g in patterns.beta_patterns(db, beta, TYPES).reasons] == ["filters"]


def test_a_beta_without_feedback_has_empty_patterns(db, beta):
    found = patterns.beta_patterns(db, beta, TYPES)
    assert (found.items.all, found.reasons, found.questions, found.blockers) == (0, [], [], [])
    assert all(t.items.all == 0 for t in found.types)


def links(html: str) -> list[tuple[str, str]]:
    """Return (href, number) of each number linked to the log."""
    return re.findall(r'<a href="(/betas/[^"]*/feedback\?[^"]*)">(\d+)</a>', html)


def listed_ids(client, href: str) -> set[int]:
    page = client.get(unescape(href)).get_data(as_text=True)
    return {int(n) for n in re.findall(r'<tr><td><a href="/feedback/(\d+)">', page)}


def test_every_number_on_the_page_links_to_exactly_its_items(
    db, client, make_user, login, beta, heard, count_queries
):
    login(make_user(Role.VIEWER))
    url = f"/betas/{beta.key}/feedback/patterns"
    with count_queries() as statements:
        response = client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Export to CSV" in page and "Not a member" in page
    assert f"/betas/{beta.key}/feedback/patterns.svg" in page

    found = links(page)
    assert len(found) > 30
    for href, number in found:
        ids = listed_ids(client, href)
        accounts = {db.get(FeedbackItem, item_id).account_id for item_id in ids}
        assert int(number) in (len(ids), len(accounts)), href
    ids = {name: item.id for name, item in heard.items()}
    wanted = f"/betas/{beta.key}/feedback?reason_is=export+to+csv&amp;cohort_kind=early_adopters"
    assert (wanted, "2") in found
    assert listed_ids(client, wanted) == {ids["a1"], ids["a2"]}
    non_members = f"/betas/{beta.key}/feedback?uncodified=y&amp;cohort_kind=none"
    assert listed_ids(client, non_members) == {ids["raw"]}
    questions = f"/betas/{beta.key}/feedback?reason_is=filters&amp;questions=y"
    assert listed_ids(client, questions) == {ids["q2"], ids["q3"]}

    # More items, the same statements.
    for n in range(30):
        log.log(
            db, Actor(make_user(Role.PM)), beta, account="acme", original=f"More {n}",
            types=TYPES, type="usability", reason=f"R{n}", summary="S",
        )  # fmt: skip
    with count_queries() as more:
        client.get(url)
    assert more.n == statements.n


def test_accounts_numbers_link_to_the_items_of_those_accounts(
    client, make_user, login, beta, heard
):
    login(make_user(Role.VIEWER))
    page = client.get(f"/betas/{beta.key}/feedback/patterns").get_data(as_text=True)
    table = page.split('id="top-reasons"', 1)[1].split("</table>", 1)[0]
    first_row = table.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    numbers = [int(n) for _href, n in links(first_row)]
    # Early adopters: 2 items from 1 account; the sample: 1 and 1; non-members: 1 and 1; all.
    assert numbers == [2, 1, 1, 1, 1, 1, 4, 3]


def test_the_chart_is_an_svg_without_script_under_its_own_policy(
    client, make_user, login, beta, heard
):
    login(make_user(Role.VIEWER))
    response = client.get(f"/betas/{beta.key}/feedback/patterns.svg")
    svg = response.get_data(as_text=True)
    assert response.mimetype == "image/svg+xml"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "<script" not in svg and "feature request" in svg and "Early adopters" in svg


def test_the_log_and_the_beta_link_to_the_patterns(client, make_user, login, beta):
    login(make_user(Role.VIEWER))
    url = f"/betas/{beta.key}/feedback/patterns"
    assert url in client.get(f"/betas/{beta.key}/feedback").get_data(as_text=True)
    assert url in client.get(f"/betas/{beta.key}").get_data(as_text=True)


def test_the_log_refuses_an_unknown_cohort_kind_on_its_field(client, make_user, login, beta):
    login(make_user(Role.VIEWER))
    response = client.get(f"/betas/{beta.key}/feedback", query_string={"cohort_kind": "vip"})
    assert response.status_code == 400
    assert 'id="cohort_kind-error"' in response.get_data(as_text=True)


def test_an_unknown_cohort_kind_is_refused_by_the_log_service(db, beta):
    with pytest.raises(log.Invalid) as refused:
        log.feedback_page(db, beta, log.FeedbackFilter(cohort_kind="vip"))
    assert refused.value.details[0]["field"] == "cohort_kind"


def test_the_patterns_page_of_an_unknown_beta_is_not_found(client, make_user, login):
    login(make_user(Role.VIEWER))
    assert client.get("/betas/nope/feedback/patterns").status_code == 404
    assert client.get("/betas/nope/feedback/patterns.svg").status_code == 404


def test_the_api_gives_the_patterns_split_by_cohort_kind(client, bearer, pm, beta, heard):
    response = client.get(
        f"{API}/betas/{beta.key}/feedback/patterns", headers=bearer(pm, ("feedback:read",))
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["beta"] == beta.key
    assert body["items"] == {
        "early_adopters": 4, "random_sample": 4, "manual": 0, "none": 2, "all": 10
    }  # fmt: skip
    assert body["reasons"][0] == {
        "key": "export to csv",
        "reason": "Export to CSV",
        "items": {"early_adopters": 2, "random_sample": 1, "manual": 0, "none": 1, "all": 4},
        "accounts": {"early_adopters": 1, "random_sample": 1, "manual": 0, "none": 1, "all": 3},
    }
    assert [q["key"] for q in body["questions"]] == ["export to csv", "filters"]
    assert (body["reason_count"], body["question_count"]) == (3, 2)
    assert [b["id"] for b in body["blockers"]] == [heard["b1"].id, heard["b2"].id]
    assert body["blockers"][0]["cohort_kind"] == "early_adopters"
    assert body["open_blockers"]["all"] == 2 and body["uncodified"]["all"] == 2
    assert {t["type"] for t in body["types"]} == set(TYPES)


def test_the_api_needs_the_read_scope_and_a_known_beta(client, bearer, pm, beta):
    url = f"{API}/betas/{beta.key}/feedback/patterns"
    assert_error(client.get(url, headers=bearer(pm, ("betas:read",))), 403, "forbidden")
    assert_error(client.get(url), 401, "unauthorized")
    missing = client.get(f"{API}/betas/nope/feedback/patterns", headers=bearer(pm, READ_WRITE))
    assert_error(missing, 404, "not_found")


def test_only_the_top_reasons_and_questions_are_listed_with_how_many_in_all(db, beta, said, acme):
    for n in range(patterns.TOP_REASONS + 3):
        for _ in range(2):
            said("acme", "Hm?", type="question", reason=f"Reason {n}", summary="S")
    found = patterns.beta_patterns(db, beta, TYPES)
    assert len(found.reasons) == len(found.questions) == patterns.TOP_REASONS
    assert found.reason_count == found.question_count == patterns.TOP_REASONS + 3


def test_the_chart_counts_items_in_whole_numbers(client, make_user, login, beta, heard):
    login(make_user(Role.VIEWER))
    svg = client.get(f"/betas/{beta.key}/feedback/patterns.svg").get_data(as_text=True)
    ticks = re.findall(r">(\d+(?:\.\d+)?)</text>", svg)
    assert ticks and all("." not in tick for tick in ticks), ticks
