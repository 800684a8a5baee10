"""The account pages: the accounts list, and an account with every beta it has been in."""

from __future__ import annotations

from flask import render_template, request

from betas.db import get_session
from cohorts import roster
from cohorts.views import cohorts

ACCOUNTS_PER_PAGE = 50


@cohorts.get("/accounts")
def account_list():
    """List accounts, filtered by id or name."""
    q = (request.args.get("q") or "").strip()[:200]
    page = max(1, request.args.get("page", 1, type=int))
    accounts, total = roster.find_accounts(get_session(), q, page, ACCOUNTS_PER_PAGE)
    return render_template(
        "cohorts/accounts.html",
        accounts=accounts,
        q=q,
        page=page,
        total=total,
        pages=max(1, -(-total // ACCOUNTS_PER_PAGE)),
    )


@cohorts.get("/accounts/<path:external_id>")
def account_page(external_id):
    """Show an account: its attributes, conversations, and every beta it has been in."""
    session = get_session()
    account = roster.get_account(session, external_id)
    return render_template(
        "cohorts/account.html",
        account=account,
        history=roster.account_history(session, account),
        conversations=roster.conversation_count(session, account),
    )
