"""The account pages: the list filtered by attribute and beta, an account's conversations."""

from datetime import date, timedelta

from betas.audit import Actor
from betas.models import Role
from cohorts import memberships
from cohorts.models import Author
from tests.cohorts.conversations import NOW, converse

TODAY = date.today()


def listed(client, query: str = "") -> list[str]:
    """Return the external ids the accounts list shows, in order."""
    response = client.get(f"/accounts?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    if 'id="accounts"' not in html:
        return []
    table = html[html.index('id="accounts"') : html.index("</table>")]
    return [
        cell.split('">', 1)[1].split("<", 1)[0] for cell in table.split('<a href="/accounts/')[1:]
    ]


def test_the_list_filters_by_attribute_whatever_the_names_case_and_spacing(
    db, client, make_account, make_user, login
):
    make_account("acme", Plan="pro", **{"Seat Count": 12})
    make_account("globex", plan="team", seatcount=5)
    make_account("initech", plan=" pro ", trial=True)
    make_account("umbrella")
    login(make_user(Role.VIEWER))
    assert listed(client, "attribute=plan+%3D+pro") == ["acme"]
    assert listed(client, "attribute=PLAN%3Dpro,+team") == ["acme", "globex"]
    assert listed(client, "attribute=seat+count+%3D+12") == ["acme"]
    assert listed(client, "attribute=SeatCount+%3D+5") == ["globex"]
    assert listed(client, "attribute=trial+%3D+true") == ["initech"]
    assert listed(client, "attribute=plan+%3D+enterprise") == []
    assert listed(client, "q=glo&attribute=plan+%3D+team") == ["globex"]


def test_the_list_filters_by_beta_whatever_the_status_and_shows_each_accounts_betas(
    db, client, running_beta, make_cohort, make_account, make_user, login
):
    inbox, other = running_beta(name="Inbox reports"), running_beta(name="Dark mode")
    for name in ("acme", "globex", "initech"):
        make_account(name)
    memberships.enroll(
        db, Actor(inbox.owner), inbox, make_cohort(inbox), ["acme", "globex"], "r", TODAY
    )
    memberships.opt_out(db, Actor(inbox.owner), inbox, "globex")
    memberships.enroll(
        db, Actor(other.owner), other, make_cohort(other), ["acme", "initech"], "r", TODAY
    )
    login(make_user(Role.VIEWER))
    assert listed(client, f"beta={inbox.key}") == ["acme", "globex"]
    assert listed(client, f"beta={other.key}") == ["acme", "initech"]
    html = client.get("/accounts").get_data(as_text=True)
    assert f'<option value="{inbox.key}">Inbox reports</option>' in html
    rows = {
        row.split('<a href="/accounts/', 1)[1].split('"', 1)[0]: row
        for row in html[html.index('id="accounts"') :].split("<tr>")[2:]
    }
    assert "Inbox reports" in rows["acme"] and "Dark mode" in rows["acme"]
    assert "Inbox reports" in rows["globex"] and "opted out" in rows["globex"]
    assert "Dark mode" not in rows["globex"]


def test_a_bad_filter_says_what_is_wrong(client, make_account, make_user, login):
    make_account("acme", plan="pro")
    login(make_user(Role.VIEWER))
    response = client.get("/accounts?attribute=plan+pro")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "write attribute = value, value" in html and 'id="accounts"' not in html
    response = client.get("/accounts?beta=no-such-beta")
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)


def test_the_lists_statements_do_not_grow_with_its_rows(
    db, client, running_beta, make_cohort, make_account, make_user, login, count_queries
):
    beta = running_beta(name="Inbox reports")
    cohort = make_cohort(beta)
    login(make_user(Role.VIEWER))

    def add(count):
        ids = [make_account(plan="pro").external_id for _ in range(count)]
        memberships.enroll(db, Actor(beta.owner), beta, cohort, ids, "r", TODAY)
        db.flush()

    query = f"/accounts?attribute=plan+%3D+pro&beta={beta.key}"
    add(1)
    with count_queries() as one:
        assert client.get(query).status_code == 200
    add(30)
    with count_queries() as many:
        html = client.get(query).get_data(as_text=True)
    # Every row shows the betas its account is in, and the statements stay the same.
    assert "31 accounts" in html and html.count("<div>Inbox reports <span") == 31
    assert 0 < many.n == one.n


def test_an_account_page_lists_its_conversations_newest_first(
    db, client, make_account, make_user, login
):
    make_account("acme", "Acme")
    converse(db, "acme", "Old question", at=NOW - timedelta(days=30))
    converse(
        db,
        "acme",
        (Author.BOT, "Hi! How can we help?"),
        "Can I   export\nthe inbox <report> every week? " + "Please " * 40,
        (Author.TEAMMATE, "Not yet."),
        tags=("reports", "billing"),
        at=NOW - timedelta(days=2),
    )
    login(make_user(Role.VIEWER))
    html = client.get("/accounts/acme").get_data(as_text=True)
    section = html[html.index('id="conversations"') :]
    assert "2 conversations" in section
    # The customer's words, not the bot's; escaped, spaces tidied, cut at a word.
    assert "Can I export the inbox &lt;report&gt; every week? Please" in section
    assert "How can we help" not in section and "…" in section
    assert section.index("Can I export") < section.index("Old question")
    assert '<span class="tag">billing</span> <span class="tag">reports</span>' in section
    assert '<td class="num">3</td>' in section and '<td class="num">1</td>' in section


def test_an_account_page_pages_its_conversations_in_constant_statements(
    db, client, make_account, make_user, login, count_queries
):
    make_account("acme")
    login(make_user(Role.VIEWER))
    converse(db, "acme", "oldest words", tags=("a",), at=NOW - timedelta(days=100))
    with count_queries() as one:
        assert client.get("/accounts/acme").status_code == 200
    for day in range(1, 25):
        converse(db, "acme", f"question {day}", tags=("a", "b"), at=NOW - timedelta(days=day))
    with count_queries() as many:
        html = client.get("/accounts/acme").get_data(as_text=True)
    assert 0 < many.n == one.n
    assert "25 conversations" in html and "page 1 of 2" in html
    assert "question 1<" in html and "oldest words" not in html
    older = client.get("/accounts/acme?page=2").get_data(as_text=True)
    assert "oldest words" in older and "question 21<" in older and "question 20<" not in older


def test_an_account_with_one_conversation_says_so(db, client, make_account, make_user, login):
    make_account("acme")
    converse(db, "acme", "hello")
    login(make_user(Role.VIEWER))
    assert "1 conversation," in client.get("/accounts/acme").get_data(as_text=True)


def test_the_list_and_the_samples_read_attribute_names_alike(
    client, make_account, make_user, login, unchanged
):
    make_account("acme", **{"Seat_Count": 12})
    login(make_user(Role.VIEWER))
    # The same folding as the sample page: case, spaces, underscores and hyphens do not matter.
    assert listed(client, "attribute=seat-count+%3D+12") == ["acme"]
    with unchanged():
        response = client.get("/accounts?attribute=plann+%3D+pro")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert (
        "No account has an attribute called &#39;plann&#39;; known attributes: Seat_Count." in html
    )


def test_an_accounts_conversations_link_to_their_page(db, client, make_user, login):
    conversation = converse(db, "acme", "Can we export?")
    login(make_user(Role.VIEWER))
    html = client.get("/accounts/acme").get_data(as_text=True)
    link = f'<a href="/conversations/{conversation.external_id}">{conversation.external_id}</a>'
    assert link in html
    assert '<td class="date">' in html  # dates in the tables do not wrap
