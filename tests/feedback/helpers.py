"""What the feedback tests share: the scopes of a feedback token, the default types, events."""

from datetime import datetime

from betas.config import DEFAULT_FEEDBACK_TYPES

READ_WRITE = ("feedback:read", "feedback:write")
TYPES = DEFAULT_FEEDBACK_TYPES


def opened(account: str, at: datetime) -> dict:
    """Return a usage event as the product sends it: the account opened a report."""
    return {
        "id": f"evt-{account}-{at.timestamp()}",
        "account": account,
        "action": "opened",
        "object": "report",
        "occurred_at": at.isoformat(),
    }
