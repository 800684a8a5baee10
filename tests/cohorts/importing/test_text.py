"""HTML to text: tags dropped, entities read, lines and spaces tidied."""

from __future__ import annotations

from cohorts.importing import html_to_text


def test_html_becomes_readable_text():
    body = (
        "<html><head><title>t</title><style>p { color: red }</style></head><body>"
        "<p>Hi&nbsp;team,</p>\n\n<p>Tom &amp; Jerry   want <b>CSV</b> exports &lt;soon&gt;.</p>"
        "<script>alert('x')</script><ul><li>one</li><li>two</li></ul>Bye<br>Ana<!-- note --></body>"
    )
    assert (
        html_to_text(body) == "Hi team,\nTom & Jerry want CSV exports <soon>.\none\ntwo\nBye\nAna"
    )


def test_plain_text_keeps_its_lines_and_its_ampersands():
    assert html_to_text("  AT&T and R&amp;D\r\n\r\n  second   line ") == "AT&T and R&D\nsecond line"


def test_an_unclosed_script_drops_everything_after_it():
    assert html_to_text("<p>Visible</p><script>var secret = 1;") == "Visible"


def test_table_cells_are_separated():
    assert html_to_text("<table><tr><td>plan</td><td>pro</td></tr></table>") == "plan pro"
