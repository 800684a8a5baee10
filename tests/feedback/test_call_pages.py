"""The call pages: the beta's calls, planning one, its preparation, logging what was said."""

from datetime import UTC, datetime
from html import escape

from sqlalchemy import select

from betas.audit import Actor
from betas.models import Role
from feedback import calls
from feedback.models import Call, FeedbackItem, Source

TYPED = "  <b>Export</b> is gone?\r\n\r\nWe need it = now  "


def planned(db, used, **values) -> Call:
    return calls.create_call(
        db,
        Actor(used.beta.owner),
        used.beta,
        account=values.pop("account", "acme"),
        held_at=datetime(2026, 12, 3, 15, tzinfo=UTC),
        **values,
    )


def test_the_owner_plans_a_call_and_lands_on_its_preparation(
    db, client, login, post, used, make_user
):
    engineer = make_user(Role.VIEWER)
    login(used.beta.owner)
    url = f"/betas/{used.beta.key}/calls"
    assert 'id="call-form"' in client.get(url).get_data(as_text=True)
    response = post(
        url,
        {
            "account": "Acme Ltd",
            "held_at": "2026-12-03T15:30",
            "attendees": [str(engineer.id)],
            "guests": "Dana",
            "questions": "Why <weekly>?",
        },
    )
    call = db.scalar(select(Call))
    assert response.status_code == 302
    assert response.location.endswith(f"/betas/{used.beta.key}/calls/{call.id}#prepare")
    assert call.held_at == datetime(2026, 12, 3, 15, 30, tzinfo=UTC) and call.attendees == [
        engineer
    ]
    page = client.get(response.location).get_data(as_text=True)
    assert "Asked for reports." in page  # why it is in the beta
    assert ">Early</a>" in page  # its cohort
    assert 'Weekly use: <span class="tag met">counts</span>' in page
    assert "Why &lt;weekly&gt;?" in page
    assert engineer.display_name in page


def test_a_refused_call_keeps_what_was_typed(db, client, login, post, used, unchanged):
    login(used.beta.owner)
    with unchanged():
        response = post(
            f"/betas/{used.beta.key}/calls",
            {"account": "nobody", "held_at": "2026-12-03T15:30", "questions": TYPED},
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="account-error">No account has the id or name' in html
    assert escape(TYPED.strip().replace("\r\n", "\n"), quote=False) in html.replace("\r\n", "\n")
    assert 'value="2026-12-03T15:30"' in html


def test_a_viewer_reads_calls_but_plans_none(client, login, post, used, make_user, unchanged):
    login(make_user(Role.VIEWER))
    page = client.get(f"/betas/{used.beta.key}/calls").get_data(as_text=True)
    assert 'id="call-form"' not in page
    with unchanged():
        response = post(
            f"/betas/{used.beta.key}/calls", {"account": "acme", "held_at": "2026-12-03T15:30"}
        )
    assert response.status_code == 403


def test_items_are_logged_from_the_call_one_after_another(db, client, login, post, used, make_user):
    call = planned(db, used)
    viewer = login(make_user(Role.VIEWER))
    url = f"/betas/{used.beta.key}/calls/{call.id}"
    first = post(f"{url}/items", {"item-original": TYPED}, token_from=url)
    assert first.status_code == 302 and first.location.endswith(f"{url}#said")
    second = post(
        f"{url}/items",
        {
            "item-original": "Where is the CSV?",
            "item-type": "question",
            "item-summary": "CSV",
            "item-reason": "Finding it",
        },
        token_from=url,
    )
    assert second.status_code == 302
    items = list(db.scalars(select(FeedbackItem).order_by(FeedbackItem.id)))
    assert [(i.original, i.call, i.source, i.logged_by) for i in items] == [
        (TYPED, call, Source.CALL, viewer),
        ("Where is the CSV?", call, Source.CALL, viewer),
    ]
    assert items[1].codified
    page = client.get(url).get_data(as_text=True)
    said = page.split('id="said-here"')[1].split("</ol>")[0]
    assert "Where is the CSV?" in said and "&lt;b&gt;Export&lt;/b&gt;" in said
    log = client.get(f"/betas/{used.beta.key}/feedback").get_data(as_text=True)
    assert "Where is the CSV?" in log


def test_a_refused_item_keeps_every_character_and_the_page(
    db, client, login, post, used, make_user, unchanged
):
    call = planned(db, used)
    login(make_user(Role.VIEWER))
    url = f"/betas/{used.beta.key}/calls/{call.id}"
    with unchanged():
        response = post(
            f"{url}/items",
            {"item-original": TYPED + "x" * 20_000, "item-summary": " Gone "},
            token_from=url,
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="item-original-error">At most 20,000 characters' in html
    assert escape(TYPED.replace("\r\n", "\n") + "x" * 20_000, quote=False) in html.replace(
        "\r\n", "\n"
    )
    assert 'value=" Gone "' in html
    assert "Asked for reports." in html  # still the call's page
    assert client.get(f"{url}/items").status_code == 302


def test_an_attendee_writes_the_notes_a_stranger_may_not(db, client, login, post, used, make_user):
    engineer = make_user(Role.VIEWER)
    call = planned(db, used, attendees=[engineer.id])
    url = f"/betas/{used.beta.key}/calls/{call.id}"
    login(engineer)
    response = post(
        f"{url}/change",
        {
            "held_at": "2026-12-03T16:00",
            "attendees": [str(engineer.id)],
            "notes": "They <export> on Mondays.",
        },
        token_from=url,
    )
    assert response.status_code == 302 and response.location.endswith(f"{url}#call")
    db.expire_all()
    assert call.notes == "They <export> on Mondays."
    assert "They &lt;export&gt; on Mondays." in client.get(url).get_data(as_text=True)
    post("/sign-out")
    login(make_user(Role.VIEWER))
    assert 'id="change-form"' not in client.get(url).get_data(as_text=True)
    assert post(f"{url}/change", {"notes": "Mine."}, token_from=url).status_code == 403


def test_a_call_of_another_beta_is_not_found(db, client, login, used, make_user):
    call = planned(db, used)
    login(make_user(Role.VIEWER))
    assert client.get(f"/betas/{used.other.key}/calls/{call.id}").status_code == 404


def test_the_calls_list_takes_as_many_statements_whatever_its_calls(
    db, client, login, used, make_user, count_queries
):
    planned(db, used)
    login(make_user(Role.VIEWER))
    url = f"/betas/{used.beta.key}/calls"
    client.get(url)
    with count_queries() as one:
        client.get(url)
    for _ in range(5):
        planned(db, used, account="globex", attendees=[make_user(Role.VIEWER).id])
    with count_queries() as six:
        page = client.get(url).get_data(as_text=True)
    assert page.count("/calls/") >= 6
    assert six.n == one.n


def test_the_hub_and_the_account_page_link_to_calls(db, client, login, used, make_user):
    call = planned(db, used)
    login(make_user(Role.VIEWER))
    hub = client.get(f"/betas/{used.beta.key}").get_data(as_text=True)
    assert f'href="/betas/{used.beta.key}/calls"' in hub
    assert f'href="/betas/{used.beta.key}/who-to-ask"' in hub
    account = client.get("/accounts/acme").get_data(as_text=True)
    assert f'href="/betas/{used.beta.key}/calls/{call.id}"' in account
    assert 'id="calls"' not in client.get("/accounts/globex").get_data(as_text=True)
