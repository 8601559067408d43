"""The manuscript's templates: Jinja2 Markdown, one per section or part, that a lab
overrides by putting a file of the same name in its own folder (``manuscript:
templates``).

Comments are written ``{#- … -#}`` (``{#id}`` is pandoc's attribute syntax). Undefined
names stop the rendering (``StrictUndefined``): a template that no longer
matches the results — an unknown name, a column or row the results do not have, a
syntax error — stops with an :class:`~process_outcome.errors.InputError` naming the
template, its line and the name, never a traceback.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from process_outcome.errors import InputError
from process_outcome.manuscript.filters import FILTERS, TESTS

__all__ = ["PACKAGE_TEMPLATES", "environment", "render_template"]

# Inside the workflow's templates folder (``workflow/templates``).
PACKAGE_TEMPLATES = "manuscript"


def environment(
    template_dir: str | Path, lab_dirs: Sequence[str | Path] = ()
) -> jinja2.Environment:
    """A Jinja2 environment over the lab's folders first, then the package's templates.

    Examples
    --------
    >>> from tests.conftest import ROOT  # doctest: +SKIP
    >>> env = environment("workflow/templates")
    >>> env.undefined.__name__
    'StrictUndefined'
    """
    folders = [str(Path(d)) for d in lab_dirs] + [str(Path(template_dir) / PACKAGE_TEMPLATES)]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        extensions=["jinja2.ext.do"],
        # Pandoc writes ids as {#id}: Jinja comments are {#- ... -#} only.
        comment_start_string="{#-",
        comment_end_string="-#}",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    return env


def _template_line(exc: BaseException) -> tuple[str, int] | None:
    # Jinja rewrites tracebacks so template frames carry the template file and line.
    found = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        name = frame.f_code.co_filename
        if name.endswith((".j2", ".md")) or name == "<template>":
            found = (name, line)
    return found


def render_template(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render one template; a template that does not fit the results stops with its
    name, line and the name it could not resolve.

    Examples
    --------
    >>> env = jinja2.Environment(loader=jinja2.DictLoader({"t.md.j2": "a\\n{{ nope }}"}),
    ...                          undefined=jinja2.StrictUndefined)
    >>> render_template(env, "t.md.j2", {})
    Traceback (most recent call last):
    ...
    process_outcome.errors.InputError: template t.md.j2, line 2: 'nope' is undefined ...
    """
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as e:
        where = e.filename or e.name or name
        raise InputError(f"template {where}, line {e.lineno}: {e.message}") from None
    except jinja2.TemplateNotFound as e:
        raise InputError(
            f"template {e.name} not found in the lab's template folders or the package's"
        ) from None
    except (jinja2.UndefinedError, AttributeError, KeyError, LookupError, TypeError) as e:
        found = _template_line(e)
        if found is None and not isinstance(e, jinja2.UndefinedError):
            raise
        file = name if found is None or found[0] == "<template>" else found[0]
        where = f"template {file}, line {found[1]}" if found else f"template {file}"
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        raise InputError(
            f"{where}: {message} (the template names something the results do not have; "
            "see the results context in process_outcome.manuscript.context)"
        ) from None
