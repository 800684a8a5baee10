"""The random-sample page: preview the pool and the mix, then draw and enroll; errors; roles."""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import date

import pytest

from betas.audit import Actor
from betas.models import Role
from cohorts import memberships, roster, sampling, waves
from cohorts.models import CohortKind

DRAW_FORM = re.compile(r'<form method="post" action="([^"]+/sample/draw)">(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def beta(db, running_beta, make_cohort, make_account):
    """Return a running beta: 3 enterprise early adopters, 10 more accounts, a sample cohort."""
    beta = running_beta()
    make_cohort(beta, "random", CohortKind.RANDOM_SAMPLE)
    early = make_cohort(beta, "early", CohortKind.EARLY_ADOPTERS)
    asked = [make_account(plan="enterprise").external_id for _ in range(3)]
    memberships.enroll(db, Actor(beta.owner), beta, early, asked, "asked", date.today())
    for n in range(10):
        make_account(plan="free" if n < 6 else "pro")
    return beta


def page(beta) -> str:
    return f"/betas/{beta.key}/cohorts/random/sample"


def mix_table(text: str) -> dict[str, list[str]]:
    """Return the mix table's rows: value, then the sample, pool and early-adopter cells."""
    table = re.search(r'<table class="list" id="mix">.*?<tbody>(.*?)</tbody>', text, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        value, *counts = (" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells)
        rows[value] = counts
    return rows


def draw_form(text: str) -> tuple[str, dict[str, str]]:
    """Return the action and hidden fields of the preview's draw form, as a browser sends them."""
    match = DRAW_FORM.search(text)
    assert match, "no draw form on the preview"
    return html.unescape(match.group(1)), {
        name: html.unescape(value) for name, value in HIDDEN.findall(match.group(2))
    }


def test_the_preview_shows_the_mix_then_the_draw_enrolls_five(db, client, beta, login, post):
    login(beta.owner)
    assert client.get(page(beta)).status_code == 200
    response = post(
        page(beta),
        {"size": "5", "seed": "page-1", "filters": "", "mix_by": "plan"},
        token_from=page(beta),
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Preview: 5 accounts from a pool of 10" in text
    # Value: sample, pool, early adopters. The early adopters are all enterprise; the pool has none.
    mix = mix_table(text)
    assert [row[1:] for row in mix.values()] == [
        ["6 (60%)", "0 (0%)"],
        ["4 (40%)", "0 (0%)"],
        ["0 (0%)", "3 (100%)"],
    ]
    assert list(mix) == ["free", "pro", "enterprise"]
    assert sum(int(row[0].split()[0]) for row in mix.values()) == 5
    assert roster.members(db, beta, waves.get_cohort(db, beta, "random")) == []

    action, fields = draw_form(text)
    assert fields["seed"] == "page-1" and fields["size"] == "5"
    response = client.post(action, data=fields)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/betas/{beta.key}/cohorts/random")
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Enrolled 5 accounts drawn at random from a pool of 10 (seed page-1)." in text
    members = roster.members(db, beta, waves.get_cohort(db, beta, "random"))
    assert len(members) == 5
    assert {m.reason for m in members} == {"random sample (seed page-1, pool of 10)"}
    # The preview's sample column described exactly the accounts the draw enrolled.
    previewed = {value: int(row[0].split()[0]) for value, row in mix.items()}
    enrolled = Counter(m.account.attributes["plan"] for m in members)
    assert previewed == {value: enrolled[value] for value in previewed}


def test_the_preview_lists_the_first_accounts_in_draw_order(db, client, beta, login, post):
    login(beta.owner)
    response = post(page(beta), {"size": "3", "seed": "order"}, token_from=page(beta))
    text = response.get_data(as_text=True)
    shown = re.findall(r'<li><a href="[^"]+">([^<]+)</a></li>', text)
    expected = sampling.draw_sample(
        db,
        Actor(beta.owner),
        beta,
        waves.get_cohort(db, beta, "random"),
        sampling.SampleSpec(3, "order"),
        date.today(),
        dry_run=True,
    ).accounts
    assert shown == expected


def test_a_new_seed_is_carried_to_the_draw(db, client, beta, login, post):
    login(beta.owner)
    text = post(page(beta), {"size": "2"}, token_from=page(beta)).get_data(as_text=True)
    seed = re.search(r"<dt>Seed</dt><dd><code>([^<]+)</code>", text).group(1)
    _, fields = draw_form(text)
    assert fields["seed"] == seed
    client.post(draw_form(text)[0], data=fields)
    assert waves.get_cohort(db, beta, "random").criteria["seed"] == seed
    # Growing the wave: the page starts from the cohort's seed and its latest draw.
    again = client.get(page(beta)).get_data(as_text=True)
    assert f'value="{seed}"' in again and 'id="draws"' in again


def test_mistakes_are_shown_next_to_what_was_typed(db, client, beta, login, post, unchanged):
    login(beta.owner)
    with unchanged():
        response = post(
            page(beta),
            {
                "size": "5",
                "seed": "kept",
                "filters": "plan = pro\nregion eu",
                "stratify_by": "plan",
            },
            token_from=page(beta),
        )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Line 2: write attribute = value, value" in text
    assert "plan = pro\nregion eu</textarea>" in text
    assert 'value="kept"' in text and 'value="plan"' in text


def test_a_pool_too_small_is_refused_keeping_the_form(db, client, beta, login, post, unchanged):
    login(beta.owner)
    with unchanged():
        response = post(
            page(beta), {"size": "50", "filters": "plan = pro, free"}, token_from=page(beta)
        )
    text = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "At most 10, the pool&#39;s size." in text
    assert 'value="50"' in text and "plan = pro, free</textarea>" in text
    assert roster.members(db, beta, waves.get_cohort(db, beta, "random")) == []


def test_viewers_see_the_page_but_cannot_preview_or_draw(
    db, client, beta, make_user, login, post, unchanged
):
    login(make_user(Role.VIEWER))
    text = client.get(page(beta)).get_data(as_text=True)
    assert "Preview</button>" not in text
    with unchanged():
        assert post(page(beta), {"size": "2"}).status_code == 403
        assert post(page(beta) + "/draw", {"size": "2", "seed": "x"}).status_code == 403
    assert "Draw a random sample" not in client.get(f"/betas/{beta.key}/cohorts/random").text


def test_the_cohort_page_links_to_the_sample_page_for_random_samples(client, beta, login):
    login(beta.owner)
    assert "Draw a random sample" in client.get(f"/betas/{beta.key}/cohorts/random").text
    assert "Draw a random sample" not in client.get(f"/betas/{beta.key}/cohorts/early").text
