"""The random-sample page: preview the pool and the mix, then draw and enroll; errors; roles."""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import date

import pytest

from betas.audit import Actor
from betas.models import Role
from cohorts import memberships, roster, sample_specs, sampling, waves
from cohorts.models import CohortKind

DRAW_FORM = re.compile(
    r'<form method="post" action="([^"#]+/sample/draw)#sample-form" id="draw-form">(.*?)</form>',
    re.S,
)
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
        sample_specs.SampleSpec(3, "order"),
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


def error_of(text: str, field: str) -> str:
    """Return the error shown under a field, unescaped."""
    match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', text)
    assert match, f"no error under {field}"
    return html.unescape(match.group(1))


def summary_of(text: str) -> str:
    """Return the error summary that opens the sample form."""
    form = text[text.index('id="sample-form"') :]
    assert form.index('class="error-summary"') < form.index('name="csrf_token"')
    return form[form.index('class="error-summary"') : form.index("</div>")]


# Attribute names


def test_stratifying_by_plan_finds_the_imported_header_plan(
    db, client, running_beta, make_cohort, make_account, login, post
):
    beta = running_beta()
    make_cohort(beta, "random", CohortKind.RANDOM_SAMPLE)
    for n in range(10):
        make_account(Plan="free" if n < 6 else "pro")
    login(beta.owner)
    response = post(
        page(beta), {"size": "5", "seed": "s", "stratify_by": "plan"}, token_from=page(beta)
    )
    assert response.status_code == 200
    # Stratified by the stored "Plan": free gets 3 and pro 2, and no account is "(none)".
    assert mix_table(response.text) == {
        "free": ["3 (60%)", "6 (60%)", "0"],
        "pro": ["2 (40%)", "4 (40%)", "0"],
    }


def test_an_attribute_no_account_has_is_refused_on_its_field(
    db, client, beta, login, post, unchanged
):
    login(beta.owner)
    with unchanged():
        response = post(
            page(beta),
            {"size": "2", "filters": "plann = pro", "stratify_by": "regio"},
            token_from=page(beta),
        )
    assert response.status_code == 422
    assert error_of(response.text, "filters") == (
        "No account has an attribute called 'plann'; known attributes: plan."
    )
    assert error_of(response.text, "stratify_by").startswith(
        "No account has an attribute called 'regio';"
    )
    assert "Fix 2 problems" in summary_of(response.text)


def test_the_form_offers_the_attributes_of_the_accounts(client, beta, make_account, login):
    make_account(**{"Seat count": 3})
    login(beta.owner)
    text = client.get(page(beta)).text
    options = re.search(r'<datalist id="sample-attributes">(.*?)</datalist>', text).group(1)
    assert re.findall(r'<option value="([^"]+)">', options) == ["plan", "Seat count"]
    for name in ("stratify_by", "mix_by"):
        assert re.search(rf'<input[^>]* id="{name}" list="sample-attributes"', text)
    assert "Attributes of the newest accounts: plan, Seat count." in text


def test_two_filter_lines_on_one_attribute_are_refused(client, beta, login, post, unchanged):
    login(beta.owner)
    with unchanged():
        response = post(
            page(beta), {"size": "2", "filters": "plan = pro\nPlan = free"}, token_from=page(beta)
        )
    assert response.status_code == 422
    assert error_of(response.text, "filters") == (
        "Line 2: Plan is on line 1 already (as plan); put all its values on one line."
    )


# A cohort that is not a random sample


def test_another_kind_of_cohort_says_where_samples_go(client, beta, login):
    login(beta.owner)
    text = client.get(f"/betas/{beta.key}/cohorts/early/sample").text
    said = re.search(r'<p class="lead" id="not-a-sample-cohort">([^<]*)</p>', text).group(1)
    assert html.unescape(said) == (
        "Early is an early-adopter cohort: random samples are drawn into random-sample cohorts."
    )
    assert f'<a href="/betas/{beta.key}/cohorts/random/sample">Random</a>.' in text
    assert "a early" not in text.lower() and 'id="sample-form"' not in text


def test_a_beta_without_sample_cohorts_links_to_adding_one(
    client, running_beta, make_cohort, login
):
    beta = running_beta()
    make_cohort(beta, "early", CohortKind.EARLY_ADOPTERS)
    login(beta.owner)
    text = client.get(f"/betas/{beta.key}/cohorts/early/sample").text
    assert (
        f'<a class="button" href="/betas/{beta.key}/cohorts">Add a random-sample cohort</a>' in text
    )


def test_the_algorithm_is_shown_under_details_with_the_seed_and_the_draws(
    client, beta, login, post
):
    login(beta.owner)
    text = post(page(beta), {"size": "2", "seed": "shown"}, token_from=page(beta)).text
    client.post(*draw_form(text)[:1], data=draw_form(text)[1])
    text = client.get(page(beta)).text
    details = re.search(r'<details class="card" id="draw-details">(.*?)</details>', text, re.S)
    assert details, "no details disclosure"
    inside = details.group(1)
    assert "sha1-lowest-v1" in inside and "<code>shown</code>" in inside and 'id="draws"' in inside
    assert "1 draw, seed shown</summary>" in inside
    assert text.count("sha1-lowest-v1") == 1


# Empty pools


def test_filters_that_match_nothing_say_so_and_what_to_do(client, beta, login, post, unchanged):
    login(beta.owner)
    with unchanged():
        response = post(page(beta), {"size": "5", "filters": "plan = gold"}, token_from=page(beta))
    assert response.status_code == 409
    assert error_of(response.text, "filters") == (
        "No account in the pool matches the filters plan = gold: loosen them "
        "(take a line away, or add values to one)."
    )
    assert "At most 0" not in response.text


# The planned size


def test_a_cohort_short_of_its_plan_starts_with_the_size_that_fills_it(db, client, beta, login):
    waves.get_cohort(db, beta, "random").planned_size = 8
    db.flush()
    login(beta.owner)
    text = client.get(page(beta)).text
    assert re.search(r'id="size"[^>]*value="8"', text)
    assert "Random plans 8 accounts and has 0: 8 more fill it." in text


def test_a_cohort_at_its_plan_asks_for_a_size_to_draw_beyond_it(
    db, client, beta, login, post, unchanged
):
    waves.get_cohort(db, beta, "random").planned_size = 1
    db.flush()
    login(beta.owner)
    text = post(page(beta), {"size": "1", "seed": "p"}, token_from=page(beta)).text
    client.post(*draw_form(text)[:1], data=draw_form(text)[1])
    text = client.get(page(beta)).text
    assert re.search(r'id="size"[^>]*value=""', text)
    assert (
        "Random has reached its planned size of 1 account. To draw more beyond the plan, say how "
        "many."
    ) in text
    with unchanged():
        response = post(page(beta), {"size": "", "seed": "p"}, token_from=page(beta))
    assert response.status_code == 422
    assert (
        error_of(response.text, "size") == "Give a size to draw more beyond the plan of 1 account."
    )
    assert "This field is required" not in response.text


def test_a_cohort_without_a_plan_still_just_requires_a_size(client, beta, login, post, unchanged):
    login(beta.owner)
    assert re.search(r'id="size"[^>]*value=""', client.get(page(beta)).text)
    with unchanged():
        response = post(page(beta), {"size": ""}, token_from=page(beta))
    assert response.status_code == 422
    assert error_of(response.text, "size") == "This field is required."


# Counts


def test_counts_say_one_account_or_several(db, client, beta, make_account, login, post):
    login(beta.owner)
    text = post(page(beta), {"size": "1", "seed": "one"}, token_from=page(beta)).text
    assert "Preview: 1 account from a pool of 10" in text
    assert "Draw and enroll 1 account</button>" in text
    assert "<h3>In draw order</h3>" in text
    assert "1 accounts" not in text
    for _ in range(11):
        make_account()
    text = post(page(beta), {"size": "21", "seed": "many"}, token_from=page(beta)).text
    assert "<h3>The first 20 in draw order</h3>" in text
    assert "and 1 more account." in text
    text = post(page(beta), {"size": "21", "seed": "many"}, token_from=page(beta)).text
    action, fields = draw_form(text)
    client.post(action, data=fields)
    text = client.get(page(beta)).text
    assert "1 draw, seed many" in text and "21 of 21" in text


# The form rules


def test_a_failed_preview_opens_the_form_with_a_summary_it_scrolls_to(
    client, beta, login, post, unchanged
):
    login(beta.owner)
    text = client.get(page(beta)).text
    assert f'action="{page(beta)}#sample-form"' in text
    with unchanged():
        response = post(page(beta), {"size": "0", "seed": "no spaces!"}, token_from=page(beta))
    summary = summary_of(response.text)
    assert "Fix 2 problems" in summary
    assert 'href="#size"' in summary and 'href="#seed"' in summary


def test_a_failed_draw_shows_its_problems_on_the_sample_form(
    db, client, beta, make_account, login, post, unchanged
):
    login(beta.owner)
    text = post(page(beta), {"size": "10", "seed": "gone"}, token_from=page(beta)).text
    action, fields = draw_form(text)
    assert action == page(beta) + "/draw"
    # Between the preview and the draw, an account joined another cohort: the pool is 9 now.
    memberships.enroll(
        db,
        Actor(beta.owner),
        beta,
        waves.get_cohort(db, beta, "early"),
        ["acct-4"],
        "r",
        date.today(),
    )
    with unchanged():
        response = client.post(action, data=fields)
    assert response.status_code == 409
    assert "At most 9, the pool" in summary_of(response.text)
    assert 'value="gone"' in response.text


def test_the_draws_post_url_opened_again_lands_on_the_sample_page(client, beta, login):
    login(beta.owner)
    response = client.get(page(beta) + "/draw")
    assert response.status_code == 302
    assert response.headers["Location"] == page(beta)
