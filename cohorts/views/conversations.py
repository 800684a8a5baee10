"""The conversation page: every part of a conversation, the search it was found by marked."""

from __future__ import annotations

from flask import render_template, request

from betas.db import get_session
from cohorts import finder
from cohorts.views import cohorts


@cohorts.get("/conversations/<path:external_id>")
def conversation_page(external_id):
    """Show a conversation part by part; `query` marks what customers wrote that it matched."""
    shown = finder.open_conversation(get_session(), external_id, request.args.get("query"))
    return render_template("cohorts/conversation.html", shown=shown)
