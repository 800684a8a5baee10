"""Write realistic accounts and conversations to benchmarks/data/, with a planted feature request.

    python benchmarks/generate.py                          # 100,000 accounts, 1,000,000 parts
    python benchmarks/generate.py --accounts 2000 --parts 20000   # a quick run

Writes accounts.csv (one row per account, with plan, seats and region), conversations.csv (one
row per part, about five parts a conversation, HTML bodies, a Zipf-like vocabulary of product
words) and planted.json: the accounts whose customers ask for one feature in varied words, and the
decoy accounts where only teammates mention those words (canned replies). The same seed gives the
same files.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
FEATURE = "Export data to CSV or a spreadsheet"
# Customers asking for the feature, each in their own words.
REQUESTS = [
    "Is there a way to export to CSV? We need it for our monthly review.",
    "I would love exporting my reports as a spreadsheet instead of copying them by hand.",
    "Can we download a csv of all conversations from last quarter?",
    "csv exports please!! our finance team keeps asking",
    "How do I get the dashboard numbers into a spreadsheet? An export button would be great.",
    "We need to export the report data to CSV so our analysts can open it in their tools.",
    "Any plans to let us download reports as spreadsheets?",
    "Exporting tickets to a CSV file would save us hours every week.",
    "Could you add an export of the inbox report? A plain csv is enough.",
    "Our board wants the numbers in a spreadsheet; is there an export?",
    "Please add CSV export for the response time report.",
    "I tried to download the team report as a spreadsheet but could not find how.",
]
QUERIES = [
    "export to CSV",
    "csv export",
    "download a spreadsheet",
    "exporting reports",
    "export report data",
]
# Teammates' canned replies use the same words: they are not evidence that a customer asked.
CANNED = [
    "Tip: you can export to CSV from any report with the Export button at the top right.",
    "Good news: reports can be downloaded as a csv or a spreadsheet from Settings, Exports.",
    "You can always download a CSV export of your data from the Reports page.",
]
# Background vocabulary: product words, none of the planted feature's words.
PRODUCT_WORDS = """
inbox report dashboard invoice billing seat login password integration slack webhook api ticket
macro tag filter notification email sso mobile app sync calendar workflow assignment rule team
chat widget bot article help center search label priority status customer contact company
segment campaign message template reply note mention snooze sla timer metric chart goal target
permission role admin invite onboarding trial plan upgrade downgrade refund charge card receipt
tax address timezone language translation theme logo domain certificate redirect form field
attachment image file upload import merge duplicate spam block archive delete restore history
audit log token key limit quota error timeout outage latency speed performance browser chrome
safari firefox android iphone notification push sound desktop shortcut keyboard layout sidebar
""".split()
VERBS = "fix change set up connect configure find see update remove share move track open".split()
FIRST_NAMES = "Ana Ben Chen Dara Eli Femi Gus Hana Ivo Jon Kai Lea Mo Nia Omar Pia Raj Sol".split()
SYLLABLES = "ac me glo bex ini tech vel ora quan tum nor dex lu mo ra sen tiv pro cor bit".split()
SUFFIXES = ["Inc", "Ltd", "GmbH", "Labs", "Group", "Co", "Systems", "Studio"]
TAGS = ["billing", "reports", "bug", "question", "feature-request", "onboarding", "urgent", "sso"]
PLANS = [("free", 50), ("starter", 25), ("pro", 18), ("enterprise", 7)]
SEATS = {"free": (1, 3), "starter": (2, 15), "pro": (10, 80), "enterprise": (50, 2000)}
REGIONS = [("na", 40), ("emea", 35), ("apac", 18), ("latam", 7)]
CUSTOMER_TEMPLATES = [
    "The {a} is not working since this morning, {b} shows an error.",
    "How do I {v} the {a} for my {b}?",
    "Our team needs the {a} to {v} {b} faster.",
    "When I {v} a {a}, the {b} disappears. Is that expected?",
    "Can you help me {v} our {a}? The {b} looks wrong.",
    "We&#39;re seeing a slow {a} on {b} again.",
    "I can&#39;t {v} the {a} &amp; the {b} together.",
    "Where do I find the {a} settings for {b}?",
]
TEAMMATE_TEMPLATES = [
    "Thanks for reaching out! To {v} the {a}, open Settings and then {b}.",
    "I checked your {a} and the {b} looks fine on our side.",
    "Our engineers are looking at the {a} issue with {b}; I&#39;ll update you soon.",
    "You can {v} the {a} from the {b} page.",
    "Could you send a screenshot of the {a} and the {b}?",
]
BOT_TEMPLATES = [
    "Hi there! A teammate will reply soon. Meanwhile, our help center covers {a} and {b}.",
    "This conversation was closed automatically after 7 days without a reply.",
    "Did this answer your question about the {a}?",
]


class Words:
    """Draw product words with Zipf-like frequencies: a few very common, a long tail."""

    def __init__(self, rng: random.Random, words: list[str], exponent: float = 1.1):
        self.rng = rng
        self.words = list(words)
        rng.shuffle(self.words)
        weights = [1 / rank**exponent for rank in range(1, len(self.words) + 1)]
        self.cumulative = list(itertools.accumulate(weights))

    def draw(self) -> str:
        """Return one word."""
        return self.rng.choices(self.words, cum_weights=self.cumulative)[0]


def weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    """Return a value drawn with its weight."""
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights)[0]


def iso(moment: datetime) -> str:
    """Return a time as the support tool exports it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_accounts(path: Path, rng: random.Random, count: int) -> list[str]:
    """Write accounts.csv; return the accounts' ids."""
    ids = [f"acc-{index:06d}" for index in range(1, count + 1)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["account_id", "name", "plan", "seats", "region"])
        for external_id in ids:
            plan = weighted(rng, PLANS)
            name = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 3))).capitalize()
            writer.writerow(
                [
                    external_id,
                    f"{name} {rng.choice(SUFFIXES)}",
                    plan,
                    rng.randint(*SEATS[plan]),
                    weighted(rng, REGIONS),
                ]
            )
    return ids


class Conversations:
    """Write conversations part by part, planting the feature request and the decoys."""

    def __init__(self, rng: random.Random, account_ids: list[str], planted: int):
        self.rng = rng
        self.words = Words(rng, PRODUCT_WORDS)
        self.account_ids = account_ids
        chosen = rng.sample(account_ids, min(len(account_ids), planted * 2))
        self.planted = sorted(chosen[:planted])
        self.decoys = sorted(chosen[planted:])
        # A few accounts write most conversations, as in real support inboxes.
        self.account_weights = list(
            itertools.accumulate(1 / (rank**0.8) for rank in range(1, len(account_ids) + 1))
        )
        self.start = datetime(2025, 1, 1, tzinfo=UTC)

    def sentence(self, templates: list[str]) -> str:
        """Return one sentence with product words."""
        return self.rng.choice(templates).format(
            a=self.words.draw(), b=self.words.draw(), v=self.rng.choice(VERBS)
        )

    def body(self, author: str, request: str = "", canned: str = "") -> str:
        """Return an HTML body as support tools export it."""
        if author == "bot":
            return f"<p>{self.sentence(BOT_TEMPLATES)}</p>"
        if author == "customer":
            lines = [self.sentence(CUSTOMER_TEMPLATES) for _ in range(self.rng.randint(1, 3))]
            if request:
                lines.insert(self.rng.randint(0, len(lines)), request)
            return f"<p>Hi,</p><p>{' '.join(lines)}</p><p>Thanks!</p>"
        lines = [self.sentence(TEAMMATE_TEMPLATES) for _ in range(self.rng.randint(1, 2))]
        if canned:
            lines.append(canned)
        name = self.rng.choice(FIRST_NAMES)
        return f"<p>Hello,</p><p>{' '.join(lines)}</p><p>Best,<br>{name}&nbsp;from Support</p>"

    def authors(self, count: int) -> list[str]:
        """Return who writes each part: often a bot first, then customer and teammate in turn."""
        authors = ["bot"] if self.rng.random() < 0.3 else []
        turn = "customer"
        while len(authors) < count:
            authors.append(turn if self.rng.random() < 0.9 else "bot")
            turn = "teammate" if turn == "customer" else "customer"
        if authors[-1] == "customer" and self.rng.random() < 0.4:
            authors[-1] = "bot"
        return authors

    def write(self, path: Path, parts: int) -> int:
        """Write about `parts` parts, one row each, planted conversations among them; count them."""
        conversations = max(1, parts // 5)
        special = [("request", a) for a in self.planted] + [("canned", a) for a in self.decoys]
        slots = dict(zip(self.rng.sample(range(conversations), len(special)), special, strict=True))
        written = 0
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(
                ["conversation_id", "account_id", "author", "body", "created_at", "tags"]
            )
            for index in range(conversations):
                remaining = parts - written
                if remaining <= 0:
                    break
                count = min(remaining, self.rng.randint(2, 8))
                kind, account = slots.get(index, ("", ""))
                account = (
                    account
                    or self.rng.choices(self.account_ids, cum_weights=self.account_weights)[0]
                )
                written += self.conversation(writer, index, account, count, kind)
        return written

    def conversation(self, writer, index: int, account: str, count: int, kind: str) -> int:
        """Write one conversation's parts; return how many."""
        authors = self.authors(count)
        if kind == "request" and "customer" not in authors:
            authors[0] = "customer"
        if kind == "canned" and "teammate" not in authors:
            authors[-1] = "teammate"
        moment = self.start + timedelta(minutes=self.rng.randint(0, 60 * 24 * 600))
        tags = self.rng.sample(TAGS, self.rng.randint(0, 2))
        if kind == "request":
            tags = sorted({*tags, "feature-request"})
        cell = self.rng.choice([", ", ";"]).join(tags)
        request_at = authors.index("customer") if kind == "request" else -1
        canned_at = authors.index("teammate") if kind == "canned" else -1
        for position, author in enumerate(authors):
            body = self.body(
                author,
                request=self.rng.choice(REQUESTS) if position == request_at else "",
                canned=self.rng.choice(CANNED) if position == canned_at else "",
            )
            writer.writerow([f"conv-{index:07d}", account, author, body, iso(moment), cell])
            moment += timedelta(minutes=self.rng.randint(1, 600))
        return len(authors)


def main() -> None:
    """Parse the flags and write the files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--parts", type=int, default=1_000_000)
    parser.add_argument("--planted", type=int, default=60, help="accounts asking for the feature")
    parser.add_argument("--seed", type=int, default=20261002)
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    account_ids = write_accounts(args.out / "accounts.csv", rng, args.accounts)
    conversations = Conversations(rng, account_ids, args.planted)
    parts = conversations.write(args.out / "conversations.csv", args.parts)
    planted = {
        "feature": FEATURE,
        "queries": QUERIES,
        "accounts": conversations.planted,
        "decoys": conversations.decoys,
    }
    (args.out / "planted.json").write_text(json.dumps(planted, indent=2) + "\n")
    print(f"Wrote {args.accounts} accounts and {parts} parts to {args.out}")


if __name__ == "__main__":
    main()
