"""Close the loop after a ship: the accounts that asked for it, why we know, and who was told.

Those who asked are the early adopters (their membership's reason is the conversation evidence
the finder read) and the accounts that asked for it in feedback (feature requests on this beta).
Read in three statements, whatever their number; exported as CSV with the ship's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from betas.exports import csv_lines, safe_cell
from betas.models import Beta
from cohorts import ship_notices
from cohorts.models import Account, Cohort, CohortKind, Membership
from feedback.models import FeedbackItem

FEATURE_REQUEST = "feature_request"
# A feature request's words, as the list and the CSV show them (the item keeps them all).
WORDS_SHOWN = 300


@dataclass
class Requester:
    """An account that asked for the feature: the evidence, and when it was told."""

    account_id: int
    external_id: str
    name: str
    evidence: list[str] = field(default_factory=list)
    told_at: datetime | None = None


def _cut(text: str) -> str:
    return text if len(text) <= WORDS_SHOWN else text[: WORDS_SHOWN - 1] + "…"


def requesters(session: Session, beta: Beta) -> list[Requester]:
    """Return the accounts that asked for the beta's feature, by external id."""
    found: dict[int, Requester] = {}

    def add(account_id: int, external_id: str, name: str, evidence: str) -> None:
        found.setdefault(account_id, Requester(account_id, external_id, name)).evidence.append(
            evidence
        )

    adopters = session.execute(
        select(Account.id, Account.external_id, Account.name, Membership.reason)
        .join(Membership, Membership.account_id == Account.id)
        .join(Cohort, Cohort.id == Membership.cohort_id)
        .where(Membership.beta_id == beta.id, Cohort.kind == CohortKind.EARLY_ADOPTERS)
    )
    for account_id, external_id, name, reason in adopters:
        add(account_id, external_id, name, f"Early adopter: {reason or 'no reason kept'}")
    requests = session.execute(
        select(
            Account.id, Account.external_id, Account.name, FeedbackItem.id, FeedbackItem.original
        )
        .join(FeedbackItem, FeedbackItem.account_id == Account.id)
        .where(FeedbackItem.beta_id == beta.id, FeedbackItem.type == FEATURE_REQUEST)
        .order_by(FeedbackItem.id)
    )
    for account_id, external_id, name, item_id, original in requests:
        add(account_id, external_id, name, f"Asked in feedback #{item_id}: {_cut(original)}")
    for account_id, notice in ship_notices.told(session, beta).items():
        if account_id in found:
            found[account_id].told_at = notice.told_at
    return sorted(found.values(), key=lambda r: r.external_id)


CSV_COLUMNS = ("account", "name", "why we know they asked", "told at", "message")


def requesters_csv(beta: Beta, rows: list[Requester]) -> Iterator[str]:
    """Yield the requesters as CSV, a line at a time, each with the ship's message."""

    def lines():
        yield list(CSV_COLUMNS)
        for r in rows:
            yield [
                safe_cell(r.external_id),
                safe_cell(r.name),
                safe_cell(" | ".join(r.evidence)),
                r.told_at.isoformat() if r.told_at else "",
                safe_cell(beta.decision.ship_message),
            ]

    return csv_lines(lines())
