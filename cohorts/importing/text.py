"""Turn bodies that may be HTML, as support tools export them, into readable plain text.

Parts keep readable text only: no tags, entities read, tidy spaces.
"""

from __future__ import annotations

import html
import re

_HIDDEN = re.compile(r"<(?:script|style|head|template|noscript|!--)", re.I)
_DROPPED = re.compile(
    r"<(script|style|head|template|noscript)\b.*?(?:</\1\s*>|\Z)|<!--.*?(?:-->|\Z)", re.S | re.I
)
# A tag never holds a bare "<": stopping there keeps the scan linear on text like "a<b<c<d".
_TAG = re.compile(
    r"</?([a-zA-Z][a-zA-Z0-9]*)(?:[^<>\"']|\"[^<\"]*\"|'[^<']*')*>|<![^<>]*>|<\?[^<>]*>"
)
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_BLOCKS = frozenset(
    "address article aside blockquote br caption dd details div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody "
    "tfoot thead tr ul".split()
)
_CELLS = frozenset(("td", "th"))
# Marks where a block element ended a line, until the source's own line breaks are gone: in HTML
# they are mere spaces. A private-use character, so no text holds it.
_BREAK = "\ue000"


def _tag_as_text(match: re.Match[str]) -> str:
    name = (match.group(1) or "").lower()
    if name in _BLOCKS:
        return _BREAK
    return " " if name in _CELLS else ""


def html_to_text(body: str) -> str:
    """Return the readable text of a body that may be HTML: no tags, entities read, tidy spaces.

    Script and style contents are dropped; block elements and <br> end lines; runs of spaces and
    blank lines shrink to one. A body without tags keeps its own line breaks.
    """
    tags = 0
    if "\x00" in body:  # PostgreSQL refuses NUL in text, and no reader misses it
        body = body.replace("\x00", "")
    if "<" in body:
        if _HIDDEN.search(body):
            body = _DROPPED.sub(" ", body)
        body, tags = _TAG.subn(_tag_as_text, body)
    if tags:
        lines = (html.unescape(body) if "&" in body else body).split(_BREAK)
    else:
        # Plain text: only complete entities are read, so "AT&T" and "&not" stay as written.
        if "&" in body:
            body = _ENTITY.sub(lambda m: html.unescape(m.group(0)), body)
        lines = body.splitlines()
    # str.split() without arguments splits on every kind of space, the no-break space included.
    return "\n".join(filter(None, (" ".join(line.split()) for line in lines)))
