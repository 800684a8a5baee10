"""A metric's chart: one line per cohort over the days, and the target as a line of its own.

Drawn on the server by pygal as an SVG document of its own, served from its own URL and shown
in an <img>: its internal <style> is the SVG's own, and pygal's scripts (its tooltips, and the
inline config it always writes) are left out, so that nothing runs and the pages' CSP holds.
The numbers are always in a table beside the chart too.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pygal
from pygal.etree import etree
from pygal.style import Style
from sqlalchemy.orm import Session

from betas.models import Beta, MetricUnit
from usage import values
from usage.values import MetricValues

# Readable on white, told apart without colour by the legend and the table beside.
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#666",
    colors=("#1f5fbf", "#d9730d", "#2e8540", "#8e44ad", "#555555", "#b0b0b0"),
    font_family="system-ui, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    tooltip_font_size=13,
)


# The SVG's own policy, sent with every chart: its internal <style> applies to it alone; nothing
# else may load or run.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def without_scripts(root) -> str:
    """Return a pygal chart's tree as SVG text, without the scripts pygal always writes."""
    for parent in root.iter():
        for child in list(parent):
            if str(child.tag).rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return etree.tostring(root, encoding="unicode")


def metric_chart(values: MetricValues) -> str:
    """Return the metric's chart as an SVG document (a str), with no script in it."""
    metric = values.metric
    days = values.all_members.days
    percent = metric.unit == MetricUnit.PERCENT
    chart = pygal.Line(
        js=[],
        disable_xml_declaration=True,
        style=STYLE,
        width=560,
        height=320,
        dots_size=3,  # a day alone (the first with members) shows as a dot
        stroke_style={"width": 3},
        legend_at_bottom=True,
        truncate_legend=-1,
        x_label_rotation=30,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(days) // 8),
        range=(0, 100) if percent else None,
        include_x_axis=True,
        value_formatter=(lambda v: f"{v:g}%") if percent else (lambda v: f"{v:g}"),
        no_data_text="No days yet: the beta has not launched",
    )
    chart.x_labels = [d.day.isoformat() for d in days]
    for series in values.cohorts:
        chart.add(series.name, [d.value for d in series.days])
    if days:
        chart.add(
            f"Target ({metric.direction.value.replace('_', ' ')} {float(metric.target):g})",
            [float(metric.target)] * len(days),
            stroke_style={"dasharray": "6, 4", "width": 2},
            show_dots=False,
        )
    return without_scripts(chart.render_tree())


def chart_of(session: Session, beta: Beta, metric_id: int, today: date, zone: ZoneInfo) -> str:
    """Return the chart of one of the beta's metrics; NotFound for one without a rule."""
    (metric,) = values.metric_values(session, beta, today, zone, metric_id=metric_id)
    return metric_chart(metric)
