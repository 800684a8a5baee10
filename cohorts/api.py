"""The JSON API for accounts, conversations, the early-adopter finder, cohorts and members."""

from __future__ import annotations

from flask_smorest import Blueprint

from betas.api import PREFIX

blp = Blueprint(
    "cohorts_api",
    __name__,
    url_prefix=PREFIX,
    description="Accounts and conversations in; early adopters found; cohorts and members.",
)

# --- Imports: accounts and conversations -------------------------------------------------------

# --- Finder: early-adopter search and problem searches -----------------------------------------

# --- Cohorts and members ----------------------------------------------------------------------
