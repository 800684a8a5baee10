"""The cohorts JSON API, one module a family: imports, the finder, samples, cohorts and members."""

from flask_smorest import Blueprint

from betas.apikit import PREFIX

blp = Blueprint(
    "cohorts_api",
    __name__,
    url_prefix=PREFIX,
    description="Accounts and conversations in; early adopters found; cohorts and members.",
)

# Each module adds its routes to the blueprint above.
from cohorts.api import finder, imports, members, samples  # noqa: E402, F401
