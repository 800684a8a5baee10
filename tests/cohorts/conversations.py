"""Conversations for the finder's tests: customers' messages, and the time the tests search at."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cohorts.models import Account, Author, Conversation, ConversationPart, ConversationTag

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_numbers = itertools.count(1)


def converse(db, account: str, *parts, tags=(), at: datetime | None = None) -> Conversation:
    """Add a conversation of `account` (made if new); parts are customer text or (author, text)."""
    owner = db.scalar(select(Account).where(Account.external_id == account))
    if owner is None:
        owner = Account(external_id=account, name=account.title())
        db.add(owner)
    at = at or NOW - timedelta(days=10)
    conversation = Conversation(
        external_id=f"conv-{next(_numbers)}",
        account=owner,
        started_at=at,
        tags=[ConversationTag(tag=tag) for tag in tags],
    )
    for n, part in enumerate(parts):
        author, body = part if isinstance(part, tuple) else (Author.CUSTOMER, part)
        conversation.parts.append(
            ConversationPart(author=author, body=body, created_at=at + timedelta(minutes=n))
        )
    db.add(conversation)
    db.flush()
    return conversation
