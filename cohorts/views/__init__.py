"""The cohorts pages, one module a page family: imports, the finder, samples, cohorts, accounts."""

from flask import Blueprint

cohorts = Blueprint("cohorts", __name__)

# Each module adds its routes to the blueprint above.
from cohorts.views import accounts, conversations, finder, imports, samples, waves  # noqa: E402, F401
