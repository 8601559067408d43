"""Citations: the text cites works by their keys in a ``.bib`` file; pandoc's citeproc
prints them in the journal's style (APA 7 by default) and lists exactly the works cited.

The package's own references are ``workflow/templates/manuscript/references.bib``; a lab
adds its own ``.bib`` files in ``manuscript: bibliography``. A key that no ``.bib`` file
has stops the rendering with the key named.

>>> cite("bates2015", "kuznetsova2017")
'[@bates2015; @kuznetsova2017]'
>>> cite_narrative("self1987")
'@self1987'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PACKAGE_REFERENCES", "bib_keys", "cite", "cite_narrative", "cited_keys"]


# The reference of each package the Software paragraph names (packages without a
# citable paper are named with their version only).
PACKAGE_REFERENCES = {
    "numpy": "harris2020",
    "scipy": "virtanen2020",
    "pandas": "mckinney2010",
    "statsmodels": "seabold2010",
    "pingouin": "vallat2018",
    "matplotlib": "hunter2007",
    "snakemake": "molder2021",
}


def cite(*keys: str) -> str:
    """A parenthetical citation in pandoc's syntax (citeproc orders the works)."""
    return "[" + "; ".join(f"@{k}" for k in keys) + "]"


def cite_narrative(key: str) -> str:
    """A narrative citation (``Bates et al. (2015)`` once rendered)."""
    return f"@{key}"


_KEY = re.compile(r"@(?!tbl:|fig:)([A-Za-z][\w-]*\d{4}[a-z]?)")


def cited_keys(text: str) -> list[str]:
    """The citation keys of a pandoc Markdown text, in order of first citation.

    Examples
    --------
    >>> cited_keys("[@stram1994; @self1987] and @stram1994, see @tbl:table1")
    ['stram1994', 'self1987']
    """
    return list(dict.fromkeys(_KEY.findall(text)))


def bib_keys(paths: Iterable[str | Path]) -> set[str]:
    """Every entry key of some ``.bib`` files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "a.bib"
    ...     _ = p.write_text("@article{smith2020,\\n title = {x}}\\n")
    ...     sorted(bib_keys([p]))
    ['smith2020']
    """
    keys: set[str] = set()
    for p in paths:
        keys |= set(re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", Path(p).read_text(encoding="utf-8")))
    return keys
