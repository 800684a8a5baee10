"""People and access in the browser: sign-in, sign-out, setup, roles, CSRF, headers, admin pages."""

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from betas import audit
from betas.auth import tokens, users
from betas.db import utcnow
from betas.models import ApiToken, AuditEntry, Role, User
from tests.helpers import PASSWORD, csrf_token


def test_every_page_but_sign_in_needs_a_signed_in_user(client, make_beta, unchanged):
    beta = make_beta()
    for path in ["/", "/betas/new", f"/betas/{beta.key}", "/admin/users", "/admin/tokens"]:
        with unchanged():
            response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/sign-in")


def test_sign_in_starts_a_fresh_session(client, make_user, login):
    user = make_user()
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    login(user)
    with client.session_transaction() as session:
        assert "planted" not in session
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused_without_saying_which_part(client, make_user):
    user = make_user()
    for email in (user.email, "nobody@example.com"):
        response = client.post(
            "/sign-in",
            data={"email": email, "password": "wrong", "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 200
        assert "The email or password is wrong." in response.get_data(as_text=True)


def test_repeated_failures_lock_the_user_for_a_while(db, client, make_user, unchanged):
    user = make_user()
    for _ in range(users.MAX_FAILED_SIGN_INS):
        client.post(
            "/sign-in",
            data={"email": user.email, "password": "wrong", "csrf_token": csrf_token(client)},
        )
    # Locked, even the right password is refused, and the refusal records nothing.
    with unchanged():
        response = client.post(
            "/sign-in",
            data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
        )
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    db.refresh(user)
    assert user.locked_until > utcnow() + timedelta(minutes=14)
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.flush()
    assert users.sign_in(db, user.email, PASSWORD) == user


def test_sign_out_ends_the_session_even_for_a_copied_cookie(
    app, client, make_user, login, post, unchanged
):
    login(make_user())
    copy = app.test_client()
    cookie = client.get_cookie("shipcall_session")
    copy.set_cookie(cookie.key, cookie.value)
    assert copy.get("/").status_code == 200
    assert post("/sign-out").status_code == 302
    with unchanged():
        assert client.get("/").status_code == 302
        assert copy.get("/").status_code == 302


def test_the_session_cookie_is_httponly_lax_and_secure(client, make_user, login):
    login(make_user())
    cookie = client.get_cookie("shipcall_session")
    assert cookie.http_only and cookie.secure and cookie.same_site == "Lax"


def test_every_response_carries_the_security_headers(client):
    for path in ["/sign-in", "/api/v1/betas", "/static/style.css", "/nowhere"]:
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"]


def test_a_form_without_its_csrf_token_changes_nothing(client, make_user, login, unchanged):
    login(make_user(Role.PM))
    with unchanged():
        response = client.post("/betas/new", data={"key": "no-token", "name": "No token"})
    assert response.status_code == 400
    assert "This form expired" in response.get_data(as_text=True)
    assert "Nothing was saved" in response.get_data(as_text=True)


def test_the_setup_link_creates_the_first_admin_once(app, db, client, unchanged):
    assert "no users yet" in client.get("/sign-in").get_data(as_text=True)
    link = "/setup?token=" + users.setup_token(app.config["SECRET_KEY"])
    form = {
        "name": "Ada",
        "email": "Ada@Example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "csrf_token": csrf_token(client, link),
    }
    response = client.post(link, data=form)
    assert response.status_code == 302
    admin = db.scalar(select(User))
    assert (admin.email, admin.role) == ("ada@example.com", Role.ADMIN)
    assert client.get("/").status_code == 200
    with unchanged():
        assert client.get(link).status_code == 410
        again = {**form, "email": "eve@example.com", "csrf_token": csrf_token(client, "/")}
        assert client.post(link, data=again).status_code == 410


def test_a_used_setup_link_says_so_and_leads_to_sign_in(app, client, make_user, unchanged):
    make_user(Role.ADMIN)
    link = "/setup?token=" + users.setup_token(app.config["SECRET_KEY"])
    with unchanged():
        response = client.get(link)
    html = response.get_data(as_text=True)
    assert response.status_code == 410
    assert "This setup link was used" in html
    assert '<a class="button" href="/sign-in">Sign in</a>' in html
    assert "Create the first admin" not in html


def test_a_forged_or_expired_setup_link_is_not_found_and_says_so(
    app, client, make_user, monkeypatch, unchanged
):
    with monkeypatch.context() as past:
        eight_days_ago = time.time() - 8 * 24 * 3600
        past.setattr(time, "time", lambda: eight_days_ago)
        expired = users.setup_token(app.config["SECRET_KEY"])
    for with_users in (False, True):
        if with_users:
            make_user(Role.ADMIN)
        for link in ["/setup?token=forged", "/setup", f"/setup?token={expired}"]:
            with unchanged():
                response = client.get(link)
            assert response.status_code == 404, link
            assert "This setup link is not valid" in response.get_data(as_text=True)
            assert "more than 7 days old" in response.get_data(as_text=True)


def test_setup_keeps_what_was_typed_when_passwords_differ(app, client, db, unchanged):
    link = "/setup?token=" + users.setup_token(app.config["SECRET_KEY"])
    form = {
        "name": "Ada",
        "email": "ada@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD + "x",
        "csrf_token": csrf_token(client, link),
    }
    with unchanged():
        html = client.post(link, data=form).get_data(as_text=True)
    assert "The passwords differ." in html
    assert 'value="ada@example.com"' in html
    assert db.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PM])
def test_admin_pages_are_for_admins(client, make_user, login, post, role, unchanged):
    login(make_user(role))
    with unchanged():
        assert client.get("/admin/users").status_code == 403
        assert post("/admin/tokens", {"name": "x", "scopes": ["betas:read"]}).status_code == 403


def test_an_admin_adds_a_user_changes_a_role_and_deactivates(db, client, make_user, login, post):
    admin = login(make_user(Role.ADMIN))
    response = post(
        "/admin/users",
        {
            "email": "pm@example.com",
            "name": "Pat",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "role": "pm",
        },
    )
    assert response.status_code == 302
    pat = users.find_user(db, "pm@example.com")
    assert post(f"/admin/users/{pat.id}/role", {"role": "viewer"}).status_code == 302
    assert post(f"/admin/users/{pat.id}/active").status_code == 302
    db.expire_all()
    assert (pat.role, pat.is_active) == (Role.VIEWER, False)
    actions = db.scalars(
        select(AuditEntry.action).where(AuditEntry.user_id == admin.id).order_by(AuditEntry.id)
    ).all()
    assert actions == ["user.created", "user.role_changed", "user.deactivated"]


def test_the_last_admin_cannot_be_demoted(db, client, make_user, login, post, unchanged):
    admin = login(make_user(Role.ADMIN))
    with unchanged():
        html = post(f"/admin/users/{admin.id}/role", {"role": "pm"}, follow_redirects=True)
    assert "at least one active admin" in html.get_data(as_text=True)
    db.refresh(admin)
    assert admin.role == Role.ADMIN


def test_a_deactivated_user_is_signed_out_and_cannot_sign_in(
    app, db, make_user, login, client, unchanged
):
    pm = make_user(Role.PM)
    login(pm)
    users.set_active(db, pm, False, audit.Actor(make_user(Role.ADMIN)))
    db.flush()
    with unchanged():
        assert client.get("/").status_code == 302
    with unchanged(), pytest.raises(users.SignInRefused, match="deactivated"):
        users.sign_in(db, pm.email, PASSWORD)


def test_an_admin_creates_a_token_seen_once_and_stored_hashed(
    app, db, client, make_user, login, post
):
    admin = login(make_user(Role.ADMIN))
    html = post(
        "/admin/tokens", {"name": "product", "user": admin.id, "scopes": ["members:read"]}
    ).get_data(as_text=True)
    secret = re.search(r'<code id="new-token">([^<]+)</code>', html).group(1)
    token = db.scalar(select(ApiToken))
    assert token.scopes == ["members:read"] and secret not in str(token.__dict__)
    assert secret not in client.get("/admin/tokens").get_data(as_text=True)
    assert post(f"/admin/tokens/{token.id}/revoke").status_code == 302
    db.refresh(token)
    assert token.revoked_at is not None
    assert tokens.token_for(app.extensions["shipcall.db"], secret) is None


def test_a_new_tokens_secret_has_a_copy_button_from_a_script_file(
    app, client, make_user, login, post
):
    admin = login(make_user(Role.ADMIN))
    assert "copy.js" not in client.get("/admin/tokens").get_data(as_text=True)
    response = post(
        "/admin/tokens", {"name": "product", "user": admin.id, "scopes": ["members:read"]}
    )
    html = response.get_data(as_text=True)
    assert '<script src="/static/copy.js" defer></script>' in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/copy.js" defer>']
    # Without JavaScript the button stays hidden, and the secret is plain, selectable text.
    assert re.search(
        r'<code id="new-token">[^<]+</code>\s*<button type="button" class="secondary" '
        r'data-copy="new-token" data-copy-status="new-token-copied" hidden>Copy</button>\s*'
        r'<span id="new-token-copied" role="status"></span>',
        html,
    )
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]
    script = client.get("/static/copy.js")
    assert script.status_code == 200
    code = script.get_data(as_text=True)
    assert "navigator.clipboard.writeText" in code and '"Copied"' in code


def test_a_token_needs_a_scope(db, client, make_user, login, post, unchanged):
    admin = login(make_user(Role.ADMIN))
    with unchanged():
        html = post("/admin/tokens", {"name": "none", "user": admin.id}).get_data(as_text=True)
    assert "Choose at least one scope." in html
    assert db.scalar(select(func.count()).select_from(ApiToken)) == 0
