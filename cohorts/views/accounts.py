"""The account pages: the accounts list, and an account with its betas and conversations."""

from __future__ import annotations

from flask import render_template, request

from betas import lifecycle, web
from betas.db import get_session
from betas.errors import DomainError
from cohorts import roster
from cohorts.forms import AccountFilterForm
from cohorts.views import cohorts

ACCOUNTS_PER_PAGE = 50
CONVERSATIONS_PER_PAGE = 20


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int))


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


@cohorts.get("/accounts")
def account_list():
    """List accounts, filtered by id or name, attribute and beta, with the betas each is in."""
    session = get_session()
    form = AccountFilterForm(formdata=request.args)
    form.offer_betas(lifecycle.list_betas(session))
    listing, status = roster.AccountPage([], 0, {}), 400
    if form.validate():
        try:
            listing = roster.find_accounts(session, form.wanted(), _page(), ACCOUNTS_PER_PAGE)
            status = 200
        except DomainError as exc:
            web.show_refusal(form, exc)
    return render_template(
        "cohorts/accounts.html",
        form=form,
        listing=listing,
        args=form.args(),
        page=_page(),
        pages=_pages(listing.total, ACCOUNTS_PER_PAGE),
    ), status


@cohorts.get("/accounts/<path:external_id>")
def account_page(external_id):
    """Show an account: its attributes, its betas, what other packages add, its conversations."""
    session = get_session()
    account = roster.get_account(session, external_id)
    conversations, total = roster.account_conversations(
        session, account, _page(), CONVERSATIONS_PER_PAGE
    )
    return render_template(
        "cohorts/account.html",
        account=account,
        history=roster.account_history(session, account),
        panels=web.account_panels(account.external_id),
        conversations=conversations,
        total=total,
        page=_page(),
        pages=_pages(total, CONVERSATIONS_PER_PAGE),
    )
