"""What the feedback tests share: token scopes, the default types, events, sheet helpers."""

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


SPREADSHEET = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
SHEET_URL = f"https://docs.google.com/spreadsheets/d/{SPREADSHEET}/edit#gid=0"


def column(fake, name: str) -> int:
    """Return the index of a column of the fake's worksheet, found by its header."""
    return fake.sheet(SPREADSHEET).rows[0].index(name)


def by_id(fake) -> dict[str, list[str]]:
    """Return the worksheet's rows by their id cell."""
    rows = fake.sheet(SPREADSHEET).values()
    at = rows[0].index("id")
    return {row[at]: row for row in rows[1:] if len(row) > at and row[at]}
