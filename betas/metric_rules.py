"""A success metric's rule over usage events: checked as every door gives it, said in words.

A rule is JSON kept on the metric (the core owns the metric's definition):
`{"events": [{"action", "object", "place"?}], "at_least": N, "per": "event" | "day",
"window_days": 7 | 14 | 28 | null}`. An account meets it on a day when its matching events
within the window ending that day (or since it joined, for a null window) number at least N
(per event), or fall on at least N distinct days (per day). Patterns are trimmed and
lower-cased as events are, and an absent place matches any place. Matching rules to events
is the usage package's (`usage.rules`).
"""

from __future__ import annotations

from typing import Any

from betas.errors import Invalid

PART_MAX = 64  # as an event's action, object and place (usage.models.KIND_PART_MAX)
PATTERNS_MAX = 10
AT_LEAST_MAX = 1_000_000
PER = ("event", "day")
WINDOWS = (7, 14, 28, None)
RULE_KEYS = frozenset({"events", "at_least", "per", "window_days"})
PATTERN_KEYS = frozenset({"action", "object", "place"})

Problem = dict[str, str]


def _part(pattern: dict, key: str, where: str, problems: list[Problem], *, required: bool) -> str:
    value = pattern.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append({"field": f"{where}.{key}", "message": "Required: a word, like 'opened'."})
        return ""
    value = value.strip().lower()
    if len(value) > PART_MAX:
        problems.append({"field": f"{where}.{key}", "message": f"At most {PART_MAX} characters."})
    return value


def _patterns(events: object, problems: list[Problem]) -> list[dict[str, str]]:
    if not isinstance(events, list) or not 1 <= len(events) <= PATTERNS_MAX:
        problems.append(
            {
                "field": "rule.events",
                "message": f"Give 1 to {PATTERNS_MAX} events, each an action and an object.",
            }
        )
        return []
    patterns = []
    for index, pattern in enumerate(events):
        where = f"rule.events.{index}"
        if not isinstance(pattern, dict) or set(pattern) - PATTERN_KEYS:
            problems.append(
                {"field": where, "message": "An event is an action, an object and perhaps a place."}
            )
            continue
        kept = {
            "action": _part(pattern, "action", where, problems, required=True),
            "object": _part(pattern, "object", where, problems, required=True),
        }
        place = _part(pattern, "place", where, problems, required=False)
        if place:
            kept["place"] = place
        patterns.append(kept)
    return patterns


def check_rule(rule: object) -> dict[str, Any] | None:
    """Return the rule as it is kept (patterns trimmed and lower-cased), or None for no rule.

    Raise Invalid with one detail per problem, each naming its field (`rule.events.0.action`).
    """
    if rule is None:
        return None
    if not isinstance(rule, dict):
        raise Invalid(
            "A rule is an object: events, at_least, per and window_days.",
            [{"field": "rule", "message": "Give events, at_least, per and window_days."}],
        )
    problems: list[Problem] = [
        {"field": f"rule.{key}", "message": "Unknown field."}
        for key in sorted(set(rule) - RULE_KEYS)
    ]
    patterns = _patterns(rule.get("events"), problems)
    at_least = rule.get("at_least")
    if isinstance(at_least, bool) or not isinstance(at_least, int):
        problems.append({"field": "rule.at_least", "message": "Required: a whole number."})
    elif not 1 <= at_least <= AT_LEAST_MAX:
        problems.append({"field": "rule.at_least", "message": f"From 1 to {AT_LEAST_MAX:,}."})
    per = rule.get("per")
    if per not in PER:
        problems.append({"field": "rule.per", "message": "Either 'event' or 'day'."})
    window = rule.get("window_days")
    if isinstance(window, bool) or window not in WINDOWS:
        problems.append(
            {"field": "rule.window_days", "message": "7, 14 or 28 days, or null (since joining)."}
        )
    if problems:
        raise Invalid(
            "The rule is not valid: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            problems,
        )
    return {"events": patterns, "at_least": at_least, "per": per, "window_days": window}


def describe_pattern(pattern: dict[str, str]) -> str:
    """Say a pattern in words: 'opened report (any place)', 'opened report (at inbox)'."""
    place = pattern.get("place")
    return f"{pattern['action']} {pattern['object']} ({f'at {place}' if place else 'any place'})"


def describe_rule(rule: dict[str, Any] | None) -> str:
    """Say a rule in words, or 'not instrumented' for a metric without one.

    For example: 'at least 2 events of opened report (any place) in the last 7 days'.
    """
    if not rule:
        return "not instrumented"
    what = " or ".join(describe_pattern(p) for p in rule["events"])
    n = rule["at_least"]
    count = (
        f"{n:,} event{'s' if n != 1 else ''} of {what}"
        if rule["per"] == "event"
        else f"{what} on {n:,} day{'s' if n != 1 else ''}"
    )
    window = rule["window_days"]
    return f"at least {count} " + (f"in the last {window} days" if window else "since joining")
