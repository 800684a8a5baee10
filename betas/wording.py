"""How Shipcall says counts in words: "1 member", "3 members", "1,204 accounts"."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """Return the count and its noun, singular for exactly one ("1 member", "3 members")."""
    word = noun if count == 1 else (nouns or f"{noun}s")
    return f"{count:,} {word}"
