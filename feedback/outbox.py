"""The outbox: every create or change of a feedback item, queued for its beta's sheet.

A session event (registered when the feedback package is imported) sees each FeedbackItem
added or changed in a flush and, when the item's beta has a linked sheet, adds an OutboxEntry in
the same flush, so in the same transaction: a change committed is a change the relay will write.
It sits on the session, not in the log's services, so that every way an item is made or changed
(the log, calls, imports, the sheet itself) is queued without knowing of the sheet.
"""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from feedback.models import FeedbackItem, OutboxEntry, SheetLink


def _changed_items(session: Session) -> list[FeedbackItem]:
    items = [obj for obj in session.new if isinstance(obj, FeedbackItem)]
    items += [
        obj
        for obj in session.dirty
        if isinstance(obj, FeedbackItem) and session.is_modified(obj, include_collections=False)
    ]
    return items


@event.listens_for(Session, "before_flush")
def queue_changes(session: Session, _context, _instances) -> None:
    """Add an outbox entry for each item of a linked beta that this flush adds or changes."""
    items = _changed_items(session)
    if not items:
        return
    beta_ids = {item.beta_id if item.beta_id is not None else item.beta.id for item in items}
    with session.no_autoflush:
        linked = set(
            session.scalars(select(SheetLink.beta_id).where(SheetLink.beta_id.in_(beta_ids)))
        )
    for item in items:
        beta_id = item.beta_id if item.beta_id is not None else item.beta.id
        if beta_id in linked:
            session.add(OutboxEntry(beta_id=beta_id, item=item))
