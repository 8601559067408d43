"""The HTML writer: rich text as escaped HTML and the manuscript through Jinja2 templates."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from process_outcome.document.apa import apa_number, apa_p, apa_r
from process_outcome.document.model import Manuscript
from process_outcome.document.rich import Rich, rich

__all__ = ["environment", "html_rich", "render", "render_html"]


_HTML_TAGS = {"i": ("<em>", "</em>"), "b": ("<strong>", "</strong>")}
_HTML_TAGS |= {"bi": ("<strong><em>", "</em></strong>"), "sub": ("<sub>", "</sub>")}
_HTML_TAGS |= {"sup": ("<sup>", "</sup>"), "code": ("<code>", "</code>"), "": ("", "")}
# Addresses stay text: the report is self-contained and links nowhere.
_HTML_TAGS |= {"url": ("", "")}


def html_rich(text: Rich | str) -> Markup:
    """Rich text as escaped HTML; numbers with a source become ``span.stat``."""
    out = []
    for run in rich(text):
        open_, close = _HTML_TAGS[run.style]
        body = str(escape(run.text))
        if run.ref is not None:
            attrs = "".join(f' {k}="{escape(v)}"' for k, v in run.ref.attributes().items())
            body = f'<span class="stat"{attrs}>{body}</span>'
        out.append(open_ + body + close)
    return Markup("".join(out))


def environment(template_dir: str | Path) -> jinja2.Environment:
    """A Jinja2 environment over the workflow's templates with autoescaping on.

    Undefined variables raise, so a template cannot silently print an empty statistic.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=jinja2.select_autoescape(["html", "j2", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["rich"] = html_rich
    env.filters["num"] = apa_number
    env.filters["p"] = apa_p
    env.filters["r"] = apa_r
    return env


def render(template_dir: str | Path, template: str, context: Mapping[str, Any]) -> str:
    """Render one template with the given context."""
    return environment(template_dir).get_template(template).render(**context)


def render_html(manuscript: Manuscript, template_dir: str | Path) -> str:
    """The manuscript as one self-contained HTML page (``manuscript.html.j2``).

    Printed (from a browser, or ``chromium --headless --no-pdf-header-footer
    --print-to-pdf=manuscript.pdf manuscript.html``), its own CSS lays out the pages:
    US Letter with 1-inch margins, the page number top right (CSS page-margin boxes,
    Chromium 131 or later; the browser's own header and footer are not needed and would
    add the file's path and date), each table caption kept with the table's header and
    first rows, tables of up to :data:`~process_outcome.document.model.LONG_TABLE_ROWS`
    rows whole on one page, longer ones broken between rows with the header repeated.
    """
    return render(template_dir, "manuscript.html.j2", {"manuscript": manuscript})
