"""What the browser tests share: Playwright's assertions, the session cookie, the journeys' beta."""

from datetime import date, timedelta

from sqlalchemy import select

from betas.models import Beta, BetaState, User

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips every browser test, saying why
    expect = None

SESSION_COOKIE = "shipcall_session"


def inbox_reports(session, owner_email: str, today: date, **values) -> Beta:
    """Add the running beta the journeys use, "inbox-reports", owned by `owner_email`.

    Its deadline is 30 days from `today`; `values` change any of its fields.
    """
    beta = Beta(
        **{
            "key": "inbox-reports",
            "name": "Inbox reports",
            "owner": session.scalar(select(User).where(User.email == owner_email)),
            "state": BetaState.RUNNING,
            "decision_deadline": today + timedelta(days=30),
            "problem": "Teams cannot see how fast they answer.",
            "learning_goals": "Do teams open the reports weekly?",
            **values,
        }
    )
    session.add(beta)
    return beta
