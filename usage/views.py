"""The measure pages of a beta (Metrics, Instrumentation), and usage's part of other pages.

cohorts' account and cohort pages cannot import usage, which sits above cohorts: `init_app`
registers, through the web kit, the account page's activity section and the member rows'
activity column, which those pages render without knowing whose they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from flask import Blueprint, Flask, Response, get_template_attribute, render_template

from betas import lifecycle, web
from betas.db import get_session, stores
from betas.models import Beta
from cohorts.models import Membership
from usage import activity, charts, instrumentation, values

usage = Blueprint("usage", __name__)
T = TypeVar("T")


def _values(key: str) -> values.BetaValues:
    beta = lifecycle.get_beta(get_session(), key)
    today, zone = web.configured_today(), web.settings().zone
    return web.storing(lambda session: values.beta_values(session, beta, today, zone))


@usage.get("/betas/<key>/metrics")
@stores
def metrics(key):
    """Show each metric's chart per cohort against its target, and its latest values."""
    result = _values(key)
    return render_template("usage/metrics.html", beta=result.beta, values=result)


@usage.get("/betas/<key>/metrics/<int:metric_id>.svg")
@stores
def metric_chart(key, metric_id):
    """Serve a metric's chart, an SVG document shown by the Metrics page in an <img>."""
    beta = lifecycle.get_beta(get_session(), key)
    today, zone = web.configured_today(), web.settings().zone
    svg = web.storing(lambda session: charts.chart_of(session, beta, metric_id, today, zone))
    return Response(
        svg,
        mimetype="image/svg+xml",
        headers={"Content-Security-Policy": charts.SVG_POLICY, "Cache-Control": "no-cache"},
    )


@usage.get("/betas/<key>/metrics.csv")
@stores
def metrics_csv(key):
    """Download every metric's series: metric, cohort, day, members, accounts, value."""
    result = _values(key)
    return Response(
        values.values_csv(result),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{result.beta.key}-metrics.csv"'},
    )


@usage.get("/betas/<key>/instrumentation")
def instrumentation_page(key):
    """Show the event kinds the members sent, and whether each rule matched any yet."""
    session = get_session()
    beta = lifecycle.get_beta(session, key)
    seen = instrumentation.instrumentation(session, beta)
    return render_template("usage/instrumentation.html", beta=beta, seen=seen)


def account_panel(external_id: str) -> str:
    """Render the account's activity in every beta it joined ("" if it joined none)."""
    found = activity.account_activity(get_session(), external_id, web.configured_today())
    if not found:
        return ""
    return render_template("usage/account_activity.html", activities=found)


def member_cells(beta: Beta, members: Sequence[Membership]) -> dict[int, str]:
    """Render each member's activity for its row: last seen, events, the metrics it counts for."""
    found = activity.activities(get_session(), beta, members, web.configured_today())
    cell = get_template_attribute("usage/_activity.html", "member_cell")
    return {membership_id: cell(a) for membership_id, a in found.items()}


def init_app(app: Flask) -> None:
    """Add the activity to the account page and to the cohort pages' member rows."""
    web.register_account_panel(app, account_panel)
    web.register_member_column(app, "Activity", member_cells)
