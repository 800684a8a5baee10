"""The patterns' chart: items of each type, a bar per cohort kind, drawn as an SVG by pygal.

Drawn like a metric's chart (usage.charts): an SVG document of its own, served from its own URL
and shown in an <img>, with pygal's scripts left out so that nothing runs and the pages' CSP
holds. The numbers are in the table beside it, each a link to its items.
"""

from __future__ import annotations

import math

import pygal

from feedback.patterns import COLUMNS, Patterns
from usage.charts import STYLE, without_scripts

WIDTH = 560


def height(patterns: Patterns) -> int:
    """Return the chart's height: room for a group of bars per type."""
    return max(240, 60 + 44 * len(patterns.types))


def types_chart(patterns: Patterns) -> str:
    """Return the items of each type per cohort kind as an SVG document (a str), no script in it."""
    chart = pygal.HorizontalBar(
        js=[],
        disable_xml_declaration=True,
        style=STYLE,
        width=WIDTH,
        height=height(patterns),
        legend_at_bottom=True,
        truncate_legend=-1,
        truncate_label=-1,
        include_x_axis=True,
        value_formatter=lambda v: f"{v:g}",
        no_data_text="No feedback codified with a type yet",
    )
    # A horizontal chart draws its first label at the bottom: the table's order reads downwards.
    types = patterns.types[::-1]
    chart.x_labels = [count.type.replace("_", " ") for count in types]
    top = max((count.items[column] for count in types for column in COLUMNS), default=0)
    if top:
        # Counts of items: whole-number ticks, about ten of them, never 0.1 of an item.
        step = math.ceil(top / 10)
        chart.y_labels = list(range(0, top + step, step))
        for column, name in COLUMNS.items():
            chart.add(name, [count.items[column] for count in types])
    return without_scripts(chart.render_tree())
