"""The Metrics and Instrumentation pages: charts as SVG of their own, tables, CSV, the CSP."""

from __future__ import annotations

import csv
import io
import re

from betas.models import Role
from shipcall.app import CONTENT_SECURITY_POLICY

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)


def test_the_metrics_page_shows_a_chart_and_the_latest_values_per_cohort(
    client, launched, login, make_user
):
    beta = launched(size=3, days=4)
    login(make_user(Role.VIEWER))
    response = client.get(f"/betas/{beta.key}/metrics")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    metric = beta.metrics[0]
    assert f'src="/betas/{beta.key}/metrics/{metric.id}.svg"' in html
    assert "at least 1 event of opened report (any place) in the last 7 days" in html
    row = re.search(r"<tr>\s*<td>Early</td>.*?</tr>", html, re.S).group(0)
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["3", "3", "100%"]
    assert '<span class="tag met">met</span>' in row
    assert "All members" in html
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert not INLINE_SCRIPT.search(html)
    assert "<style" not in html and " style=" not in html


def test_the_chart_is_an_svg_of_its_own_with_no_script(client, launched, login, make_user):
    beta = launched(size=2, days=3)
    login(make_user(Role.VIEWER))
    response = client.get(f"/betas/{beta.key}/metrics/{beta.metrics[0].id}.svg")
    svg = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert svg.startswith("<svg") and "Early" in svg and "Target (at least 40)" in svg
    assert "<script" not in svg
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'"
    )


def test_a_metric_without_a_rule_has_no_chart(client, db, launched, login, make_user):
    beta = launched(size=1, days=1)
    beta.metrics[0].rule = None
    db.flush()
    login(make_user(Role.VIEWER))
    assert client.get(f"/betas/{beta.key}/metrics/{beta.metrics[0].id}.svg").status_code == 404
    assert "No metric has a rule over events yet" in client.get(
        f"/betas/{beta.key}/metrics"
    ).get_data(as_text=True)


def test_the_series_downloads_as_csv(client, launched, login, make_user):
    beta = launched(size=2, days=1)
    login(make_user(Role.VIEWER))
    response = client.get(f"/betas/{beta.key}/metrics.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["metric", "cohort", "day", "members", "accounts", "value"]
    assert [r[1] for r in rows[1:]] == ["early", "early", "all members", "all members"]
    assert rows[-1][3:] == ["2", "2", "100"]


def test_the_metrics_page_takes_the_same_statements_whatever_the_members_and_days(
    client, launched, login, make_user, count_queries
):
    login(make_user(Role.VIEWER))

    def statements(beta) -> int:
        with count_queries() as counter:
            assert client.get(f"/betas/{beta.key}/metrics").status_code == 200
        return counter.n

    assert statements(launched(size=2, days=2)) == statements(launched(size=40, days=20))


def test_instrumentation_lists_the_kinds_seen_and_the_rules_that_match_none(
    client, db, launched, login, make_user
):
    beta = launched(size=2, days=2)
    beta.metrics[0].rule = {**beta.metrics[0].rule, "events": [{"action": "x", "object": "y"}]}
    db.flush()
    login(make_user(Role.VIEWER))
    html = client.get(f"/betas/{beta.key}/instrumentation").get_data(as_text=True)
    assert re.search(
        r"<td>opened</td><td>report</td><td>\(none\)</td>\s*<td class=\"num\">4</td>", html
    )
    assert "no event matches this rule: check the product's instrumentation" in html
    beta.metrics[0].rule = {
        **beta.metrics[0].rule,
        "events": [{"action": "opened", "object": "report"}],
    }
    db.flush()
    html = client.get(f"/betas/{beta.key}/instrumentation").get_data(as_text=True)
    assert "no event matches this rule" not in html and "4 events, last" in html
