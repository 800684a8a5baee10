"""The patterns' chart: items of each type, a bar per cohort kind, drawn as an SVG by pygal.

Drawn like a metric's chart (usage.charts): an SVG document of its own, served from its own URL
and shown in an <img>, with pygal's scripts left out so that nothing runs and the pages' CSP
holds. The numbers are in the table beside it, each a link to its items.
"""

from __future__ import annotations

import pygal

from feedback.patterns import COLUMNS, Patterns
from usage.charts import STYLE, without_scripts


def types_chart(patterns: Patterns) -> str:
    """Return the items of each type per cohort kind as an SVG document (a str), no script in it."""
    chart = pygal.HorizontalBar(
        js=[],
        disable_xml_declaration=True,
        style=STYLE,
        width=560,
        height=max(240, 60 + 44 * len(patterns.types)),
        legend_at_bottom=True,
        truncate_legend=-1,
        truncate_label=-1,
        include_x_axis=True,
        value_formatter=lambda v: f"{v:g}",
        no_data_text="No feedback codified with a type yet",
    )
    chart.x_labels = [count.type.replace("_", " ") for count in patterns.types]
    if any(count.items.all for count in patterns.types):
        for column, name in COLUMNS.items():
            chart.add(name, [count.items[column] for count in patterns.types])
    return without_scripts(chart.render_tree())
