"""The Who to ask page: the list, its left-out counts, the export that records asks, by hand."""

from datetime import UTC, timedelta

from sqlalchemy import func, select

from betas.audit import Actor
from betas.models import Role
from cohorts import memberships
from feedback.models import Ask
from tests.feedback.helpers import opened
from usage.events import ingest_items


def asks_of(db, beta) -> list[tuple[str, str]]:
    db.expire_all()
    return [
        (a.account.external_id, a.channel)
        for a in db.scalars(select(Ask).where(Ask.beta_id == beta.id).order_by(Ask.id))
    ]


def test_anyone_reads_who_to_ask_with_what_was_left_out(db, client, login, used, make_user):
    login(make_user(Role.VIEWER))
    weekly = used.beta.metrics[0]
    response = client.get(f"/betas/{used.beta.key}/who-to-ask?metric={weekly.id}&days=7")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    table = page.split('id="who-to-ask"')[1].split("</table>")[0]
    assert "acme" in table and "hooli" not in table and "globex" not in table
    said = " ".join(page.split('id="left-out">')[1].split("</p>")[0].split())
    assert said == (
        "1 member to ask. Left out: 1 not using it, 1 asked in the last 14 days, "
        "1 opted out, declined or removed."
    )
    assert 'id="export-form"' not in page  # a viewer does not export


def test_opened_from_the_beta_page_it_lists_any_event_of_the_last_14_days(
    client, login, used, make_user
):
    login(make_user(Role.VIEWER))
    response = client.get(f"/betas/{used.beta.key}/who-to-ask")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="14"' in page and 'class="error"' not in page
    assert "acme" in page.split('id="who-to-ask"')[1].split("</table>")[0]


def test_a_bad_choice_says_so_on_its_field(client, login, used, make_user):
    login(make_user(Role.VIEWER))
    response = client.get(f"/betas/{used.beta.key}/who-to-ask?days=0")
    assert response.status_code == 400
    assert 'id="days-error"' in response.get_data(as_text=True)
    response = client.get(f"/betas/{used.beta.key}/who-to-ask?metric=999999")
    assert response.status_code == 400


def test_the_owner_exports_the_list_with_the_message_and_each_is_asked(
    db, client, login, post, used
):
    login(used.beta.owner)
    url = f"/betas/{used.beta.key}/who-to-ask"
    page = client.get(url).get_data(as_text=True)
    assert 'id="beta-message"' in page and "We need your feedback" in page
    response = post(
        f"{url}.csv", {"metric": "", "days": "7", "channel": "Intercom"}, token_from=url
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="{used.beta.key}-who-to-ask.csv"'
    )
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "account_id,name,cohort,last_seen_at,events"
    assert [line.split(",")[0] for line in lines[1:]] == ["acme"]
    assert asks_of(db, used.beta) == [("acme", "Intercom")]
    # The page lists the ask; exported again, nobody is left to ask, which the page says.
    assert "Intercom" in client.get(url).get_data(as_text=True).split('id="asks"')[1]
    again = post(f"{url}.csv", {"metric": "", "days": "7", "channel": "Intercom"}, token_from=url)
    assert again.status_code == 422
    html = again.get_data(as_text=True)
    assert "Nobody is on the list" in html and 'id="left-out"' in html
    assert asks_of(db, used.beta) == [("acme", "Intercom")]


def test_an_export_without_a_channel_records_nothing(db, client, login, post, used, unchanged):
    login(used.beta.owner)
    url = f"/betas/{used.beta.key}/who-to-ask"
    token_page = url
    with unchanged():
        response = post(
            f"{url}.csv", {"metric": "", "days": "7", "channel": " "}, token_from=token_page
        )
    assert response.status_code == 422
    assert 'id="channel-error"' in response.get_data(as_text=True)


def test_a_viewer_neither_exports_nor_records_asks(
    db, client, login, post, used, make_user, unchanged
):
    login(make_user(Role.VIEWER))
    url = f"/betas/{used.beta.key}/who-to-ask"
    with unchanged():
        assert (
            post(f"{url}.csv", {"days": "7", "channel": "email"}, token_from=url).status_code == 403
        )
        assert (
            post(
                f"/betas/{used.beta.key}/asks",
                {"accounts": "acme", "channel": "email"},
                token_from=url,
            ).status_code
            == 403
        )


def test_asks_are_recorded_by_hand_leaving_out_the_cooldown(db, client, login, post, used):
    login(used.beta.owner)
    url = f"/betas/{used.beta.key}/who-to-ask"
    response = post(
        f"/betas/{used.beta.key}/asks",
        {"accounts": "acme, hooli\nglobex", "channel": "phone"},
        token_from=url,
    )
    assert response.status_code == 302 and response.location.endswith(f"{url}#asks")
    assert asks_of(db, used.beta) == [("acme", "phone"), ("globex", "phone")]
    page = client.get(url).get_data(as_text=True)
    assert "Recorded 2 asks. Not asked, asked too recently: hooli." in page


def test_a_refused_ask_keeps_what_was_typed(db, client, login, post, used, unchanged):
    login(used.beta.owner)
    url = f"/betas/{used.beta.key}/who-to-ask"
    with unchanged():
        response = post(
            f"/betas/{used.beta.key}/asks",
            {"accounts": "acme\ninitech", "channel": "phone"},
            token_from=url,
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "never asked: initech" in html
    assert "acme\ninitech</textarea>" in html.replace("\r\n", "\n")


def test_the_list_takes_as_many_statements_whatever_its_members(
    db, client, login, used, make_user, make_account, count_queries, monkeypatch
):
    login(make_user(Role.VIEWER))
    url = f"/betas/{used.beta.key}/who-to-ask?days=7"
    client.get(url)
    with count_queries() as few:
        client.get(url)
    ids = [make_account().external_id for _ in range(5)]
    monkeypatch.setattr(memberships, "utcnow", lambda: used.now - timedelta(days=1))
    memberships.enroll(
        db, Actor(used.beta.owner), used.beta, used.cohort, ids, "Asked.", used.today
    )
    ingest_items(db, [opened(i, used.now - timedelta(hours=1)) for i in ids], UTC)
    with count_queries() as many:
        page = client.get(url).get_data(as_text=True)
    assert all(i in page for i in ids)
    assert many.n == few.n
    assert db.scalar(select(func.count()).select_from(Ask)) == 1
