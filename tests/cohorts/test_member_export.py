"""The members' CSV for the messaging tool: who is in it, their attributes, per beta and cohort."""

import csv
import io
from datetime import date

from betas.audit import Actor
from betas.models import Risk
from cohorts import memberships

TODAY = date.today()


def rows_of(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def enroll(db, beta, cohort, *ids):
    memberships.enroll(db, Actor(beta.owner), beta, cohort, ids, "asked", TODAY)


def test_the_export_holds_only_the_members_to_message_unless_everyone_is_asked_for(
    db, client, running_beta, make_cohort, make_account, login
):
    beta = running_beta(risk=Risk.HIGH)
    for name in ("acme", "globex", "initech", "umbrella"):
        make_account(name, name.title())
    enroll(db, beta, make_cohort(beta), "acme", "globex", "initech", "umbrella")
    owner = Actor(beta.owner)
    memberships.record_response(db, owner, beta, "acme", accepted=True, today=date.today())
    memberships.record_response(db, owner, beta, "globex", accepted=False, today=date.today())
    memberships.opt_out(db, owner, beta, "initech")
    login(beta.owner)

    response = client.get(f"/betas/{beta.key}/members.csv")
    assert response.is_streamed
    # A high-risk beta's invited accounts must be asked: they are in it, with the active ones.
    assert {(r["account_id"], r["name"], r["status"]) for r in rows_of(response)} == {
        ("acme", "Acme", "active"),
        ("umbrella", "Umbrella", "invited"),
    }

    everyone = rows_of(client.get(f"/betas/{beta.key}/members.csv?include=all"))
    assert {r["account_id"]: r["status"] for r in everyone} == {
        "acme": "active",
        "globex": "declined",
        "initech": "opted_out",
        "umbrella": "invited",
    }


def test_a_low_risk_export_leaves_out_who_opted_out(
    db, client, running_beta, make_cohort, make_account, login
):
    beta = running_beta()
    for name in ("acme", "globex"):
        make_account(name)
    enroll(db, beta, make_cohort(beta), "acme", "globex")
    memberships.opt_out(db, Actor(beta.owner), beta, "globex")
    login(beta.owner)
    rows = rows_of(client.get(f"/betas/{beta.key}/members.csv"))
    assert [r["account_id"] for r in rows] == ["acme"]


def test_every_attribute_gets_a_column_in_a_stable_order_and_none_is_a_formula(
    db, client, running_beta, make_cohort, make_account, login
):
    beta = running_beta()
    make_account("acme", "Acme", plan="pro", Region="=HYPERLINK(1)", seats=12, trial=True)
    make_account("globex", "Globex", plan="team", status="vip", tags=["a", "b"], delta=-3)
    enroll(db, beta, make_cohort(beta), "acme", "globex")
    login(beta.owner)
    text = client.get(f"/betas/{beta.key}/members.csv").get_data(as_text=True)
    header = text.splitlines()[0]
    assert header == (
        "account_id,name,cohort,status,enrolled_at,notified_at,"
        "delta,plan,Region,seats,attribute:status,tags,trial"
    )
    rows = {r["account_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["acme"]["Region"] == "'=HYPERLINK(1)"
    assert (rows["acme"]["plan"], rows["acme"]["seats"], rows["acme"]["trial"]) == (
        "pro",
        "12",
        "true",
    )
    assert rows["acme"]["delta"] == ""  # an attribute the account lacks is an empty cell
    assert (rows["globex"]["delta"], rows["globex"]["attribute:status"]) == ("-3", "vip")
    assert rows["globex"]["status"] == "active"
    assert rows["globex"]["tags"] == '["a", "b"]'


def test_each_cohort_exports_its_own_members_from_a_link_on_its_page(
    db, client, running_beta, make_cohort, make_account, login
):
    beta = running_beta()
    for name in ("acme", "globex", "initech"):
        make_account(name)
    early, later = make_cohort(beta, "early"), make_cohort(beta, "later")
    enroll(db, beta, early, "acme", "initech")
    enroll(db, beta, later, "globex")
    memberships.opt_out(db, Actor(beta.owner), beta, "initech")
    login(beta.owner)
    page = client.get(f"/betas/{beta.key}/cohorts/early").get_data(as_text=True)
    url = f"/betas/{beta.key}/cohorts/early/members.csv"
    assert f'action="{url}"' in page
    assert 'type="checkbox" name="include" value="all"' in page

    response = client.get(url)
    assert response.mimetype == "text/csv" and response.is_streamed
    assert f'filename="{beta.key}-early-members.csv"' in response.headers["Content-Disposition"]
    assert [r["account_id"] for r in rows_of(response)] == ["acme"]
    everyone = rows_of(client.get(f"{url}?include=all"))
    assert {r["account_id"]: r["status"] for r in everyone} == {
        "acme": "active",
        "initech": "opted_out",
    }


def test_an_unknown_include_is_refused_with_a_message(client, running_beta, make_cohort, login):
    beta = running_beta()
    make_cohort(beta)
    login(beta.owner)
    for url in (f"/betas/{beta.key}/members.csv", f"/betas/{beta.key}/cohorts/early/members.csv"):
        response = client.get(f"{url}?include=everyone")
        assert response.status_code == 400
        assert "include=all" in response.get_data(as_text=True)
