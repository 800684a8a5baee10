"""Pages for cohorts: imports, the early-adopter finder, cohorts, members and accounts."""

from __future__ import annotations

from flask import Blueprint

cohorts = Blueprint("cohorts", __name__)

# --- Imports: upload, map columns, preview, import ---------------------------------------------

# --- Finder: search customer conversations, enroll, save problem searches ------------------------

# --- Cohorts, members and accounts ------------------------------------------------------------
