"""The reference list: every work the manuscript cites, as data, and its APA 7 rendering.

A citation in the text is made with :func:`cite` (parenthetical, ``(Bates et al., 2015)``)
or :func:`cite_narrative` (``Bates et al. (2015)``) from a key of :data:`REFERENCES`; the
References section (:func:`references_section`) lists exactly the works whose citation
appears in the built manuscript, in APA order. To cite a new work, add one
:class:`Reference` to :data:`REFERENCES` and cite it by its key;
``tests/unit/manuscript/test_references.py`` finds every author–year citation in the
rendered manuscript and fails on one without an entry, or an entry never cited.

>>> cite("bates2015", "kuznetsova2017")
'(Bates et al., 2015; Kuznetsova et al., 2017)'
>>> cite_narrative("self1987")
'Self and Liang (1987)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from process_outcome.document import (
    EN_DASH,
    Block,
    Figure,
    Heading,
    Manuscript,
    Paragraph,
    Rich,
    Section,
    Table,
    it,
    rich,
    url,
)
from process_outcome.supplement.metadata import ORIGINAL_STUDY

__all__ = [
    "CITATION",
    "PACKAGE_REFERENCES",
    "REFERENCES",
    "Reference",
    "citations_in",
    "cite",
    "cite_narrative",
    "cited_keys",
    "manuscript_text",
    "references_section",
    "with_references",
]


@dataclass(frozen=True)
class Reference:
    """One work of the reference list (APA 7).

    Attributes
    ----------
    key : str
        The key the text cites it by (``bates2015``).
    authors : tuple of str
        ``"Family, I. I."`` each, in the order of the byline; a group author as its name.
    year : str
    title : str
        Sentence case, as APA prints it.
    source : str
        Journal (articles) or the proceedings' title (chapters).
    volume, issue, pages : str
        ``pages`` with an en dash, or ``Article 456``.
    doi : str
        Without ``https://doi.org/``.
    editors : str
        ``S. van der Walt & J. Millman`` for a chapter in edited proceedings.
    omitted : int
        Authors left out of ``authors`` between the 19th and the last, for works of more
        than 20 authors, which APA 7 lists only so far.
    publisher : str
        The book's publisher, for a chapter in an edited book.
    """

    key: str
    authors: tuple[str, ...]
    year: str
    title: str
    source: str
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    editors: str = ""
    omitted: int = 0
    publisher: str = ""

    @property
    def families(self) -> tuple[str, ...]:
        """The authors' family names (``Bates``; a group author whole)."""
        return tuple(a.split(", ")[0] for a in self.authors)

    def names(self, narrative: bool = False) -> str:
        """Authors as cited in the text: ``Self & Liang`` (``and`` in narrative), or
        ``Bates et al.`` for three or more (APA 7, 8.17)."""
        f = self.families
        if len(f) == 1:
            return f[0]
        if len(f) == 2:
            return f"{f[0]} {'and' if narrative else '&'} {f[1]}"
        return f"{f[0]} et al."

    def byline(self) -> str:
        """The reference list's author element: up to 20 authors, ``&`` before the last;
        from 21 on, the first 19, an ellipsis and the last (APA 7, 9.8)."""
        a = list(self.authors)
        if len(a) == 1:
            return a[0]
        if len(a) + self.omitted > 20:
            return ", ".join(a[:-1][:19]) + ", . . . " + a[-1]
        return ", ".join(a[:-1]) + ", & " + a[-1]

    def entry(self) -> Rich:
        """The APA 7 reference-list entry with its DOI as a URL."""
        byline = self.byline()
        # A group author ends without the period that initials give a person's name.
        head = rich(f"{byline}{'' if byline.endswith('.') else '.'} ({self.year}). ")
        doi = rich(" ", url(f"https://doi.org/{self.doi}")) if self.doi else Rich()
        if self.editors:
            # A paper in edited proceedings: the proceedings' title in italics.
            return rich(
                head,
                f"{self.title}. In {self.editors} (Eds.), ",
                it(self.source),
                f" (pp. {self.pages}).",
                f" {self.publisher}." if self.publisher else "",
                doi,
            )
        volume = it(self.volume) if self.volume else Rich()
        locator = rich(volume, f"({self.issue})" if self.issue else "")
        if self.pages:
            locator = rich(locator, ", " if locator else "", self.pages)
        where = rich(", ", locator) if locator else Rich()
        return rich(head, f"{self.title}. ", it(self.source), where, ".", doi)


def _original_study() -> Reference:
    """The original study, from the one record the supplement's citation file uses too."""
    s = ORIGINAL_STUDY
    authors = []
    for a in s["authors"]:
        initials = " ".join(f"{part[0]}." for part in a["given-names"].replace(".", "").split())
        authors.append(f"{a['family-names']}, {initials}")
    return Reference(
        "coyne2022",
        tuple(authors),
        str(s["year"]),
        # The article's title, with the en dash of "process–outcome" as published.
        str(s["title"]).replace("process-outcome", f"process{EN_DASH}outcome"),
        str(s["journal"]),
        str(s["volume"]),
        str(s["issue"]),
        f"{s['start']}{EN_DASH}{s['end']}",
        str(s["doi"]),
    )


_NUMPY_AUTHORS = (
    "Harris, C. R.",
    "Millman, K. J.",
    "van der Walt, S. J.",
    "Gommers, R.",
    "Virtanen, P.",
    "Cournapeau, D.",
    "Wieser, E.",
    "Taylor, J.",
    "Berg, S.",
    "Smith, N. J.",
    "Kern, R.",
    "Picus, M.",
    "Hoyer, S.",
    "van Kerkwijk, M. H.",
    "Brett, M.",
    "Haldane, A.",
    "Fernández del Río, J.",
    "Wiebe, M.",
    "Peterson, P.",
    "Gérard-Marchant, P.",
    "Sheppard, K.",
    "Reddy, T.",
    "Weckesser, W.",
    "Abbasi, H.",
    "Gohlke, C.",
    "Oliphant, T. E.",
)
_SCIPY_AUTHORS = (
    "Virtanen, P.",
    "Gommers, R.",
    "Oliphant, T. E.",
    "Haberland, M.",
    "Reddy, T.",
    "Cournapeau, D.",
    "Burovski, E.",
    "Peterson, P.",
    "Weckesser, W.",
    "Bright, J.",
    "van der Walt, S. J.",
    "Brett, M.",
    "Wilson, J.",
    "Millman, K. J.",
    "Mayorov, N.",
    "Nelson, A. R. J.",
    "Jones, E.",
    "Kern, R.",
    "Larson, E.",
    # ... 15 further named authors (Carey to van Mulbregt), then the group:
    "SciPy 1.0 Contributors",
)
_SNAKEMAKE_AUTHORS = (
    "Mölder, F.",
    "Jablonski, K. P.",
    "Letcher, B.",
    "Hall, M. B.",
    "Tomkins-Tinch, C. H.",
    "Sochat, V.",
    "Forster, J.",
    "Lee, S.",
    "Twardziok, S. O.",
    "Kanitz, A.",
    "Wilm, A.",
    "Holtgrewe, M.",
    "Rahmann, S.",
    "Nahnsen, S.",
    "Köster, J.",
)
_SCIPY_PROCEEDINGS = "Proceedings of the 9th Python in Science Conference"

REFERENCES: dict[str, Reference] = {
    r.key: r
    for r in (
        _original_study(),
        Reference(
            "bakdash2017",
            ("Bakdash, J. Z.", "Marusich, L. R."),
            "2017",
            "Repeated measures correlation",
            "Frontiers in Psychology",
            "8",
            "",
            "Article 456",
            "10.3389/fpsyg.2017.00456",
        ),
        Reference(
            "bliese2000",
            ("Bliese, P. D.",),
            "2000",
            "Within-group agreement, non-independence, and reliability: Implications for "
            "data aggregation and analysis",
            "Multilevel theory, research, and methods in organizations",
            pages=f"349{EN_DASH}381",
            editors="K. J. Klein & S. W. J. Kozlowski",
            publisher="Jossey-Bass",
        ),
        Reference(
            "ludtke2008",
            (
                "Lüdtke, O.",
                "Marsh, H. W.",
                "Robitzsch, A.",
                "Trautwein, U.",
                "Asparouhov, T.",
                "Muthén, B.",
            ),
            "2008",
            "The multilevel latent covariate model: A new, more reliable approach to "
            "group-level effects in contextual studies",
            "Psychological Methods",
            "13",
            "3",
            f"203{EN_DASH}229",
            "10.1037/a0012869",
        ),
        Reference(
            "rights2019",
            ("Rights, J. D.", "Sterba, S. K."),
            "2019",
            "Quantifying explained variance in multilevel models: An integrative framework "
            "for defining R-squared measures",
            "Psychological Methods",
            "24",
            "3",
            f"309{EN_DASH}338",
            "10.1037/met0000184",
        ),
        Reference(
            "bates2015",
            ("Bates, D.", "Mächler, M.", "Bolker, B.", "Walker, S."),
            "2015",
            "Fitting linear mixed-effects models using lme4",
            "Journal of Statistical Software",
            "67",
            "1",
            f"1{EN_DASH}48",
            "10.18637/jss.v067.i01",
        ),
        Reference(
            "benjamini1995",
            ("Benjamini, Y.", "Hochberg, Y."),
            "1995",
            "Controlling the false discovery rate: A practical and powerful approach to "
            "multiple testing",
            "Journal of the Royal Statistical Society: Series B (Methodological)",
            "57",
            "1",
            f"289{EN_DASH}300",
            "10.1111/j.2517-6161.1995.tb02031.x",
        ),
        Reference(
            "harris2020",
            _NUMPY_AUTHORS,
            "2020",
            "Array programming with NumPy",
            "Nature",
            "585",
            "7825",
            f"357{EN_DASH}362",
            "10.1038/s41586-020-2649-2",
        ),
        Reference(
            "hunter2007",
            ("Hunter, J. D.",),
            "2007",
            "Matplotlib: A 2D graphics environment",
            "Computing in Science & Engineering",
            "9",
            "3",
            f"90{EN_DASH}95",
            "10.1109/MCSE.2007.55",
        ),
        Reference(
            "kuznetsova2017",
            ("Kuznetsova, A.", "Brockhoff, P. B.", "Christensen, R. H. B."),
            "2017",
            "lmerTest package: Tests in linear mixed effects models",
            "Journal of Statistical Software",
            "82",
            "13",
            f"1{EN_DASH}26",
            "10.18637/jss.v082.i13",
        ),
        Reference(
            "mckinney2010",
            ("McKinney, W.",),
            "2010",
            "Data structures for statistical computing in Python",
            _SCIPY_PROCEEDINGS,
            pages=f"56{EN_DASH}61",
            doi="10.25080/Majora-92bf1922-00a",
            editors="S. van der Walt & J. Millman",
        ),
        Reference(
            "molder2021",
            _SNAKEMAKE_AUTHORS,
            "2021",
            "Sustainable data analysis with Snakemake",
            "F1000Research",
            "10",
            "",
            "33",
            "10.12688/f1000research.29032.2",
        ),
        Reference(
            "satterthwaite1946",
            ("Satterthwaite, F. E.",),
            "1946",
            "An approximate distribution of estimates of variance components",
            "Biometrics Bulletin",
            "2",
            "6",
            f"110{EN_DASH}114",
            "10.2307/3002019",
        ),
        Reference(
            "seabold2010",
            ("Seabold, S.", "Perktold, J."),
            "2010",
            "Statsmodels: Econometric and statistical modeling with Python",
            _SCIPY_PROCEEDINGS,
            pages=f"92{EN_DASH}96",
            doi="10.25080/Majora-92bf1922-011",
            editors="S. van der Walt & J. Millman",
        ),
        Reference(
            "self1987",
            ("Self, S. G.", "Liang, K.-Y."),
            "1987",
            "Asymptotic properties of maximum likelihood estimators and likelihood ratio "
            "tests under nonstandard conditions",
            "Journal of the American Statistical Association",
            "82",
            "398",
            f"605{EN_DASH}610",
            "10.1080/01621459.1987.10478472",
        ),
        Reference(
            "stram1994",
            ("Stram, D. O.", "Lee, J. W."),
            "1994",
            "Variance components testing in the longitudinal mixed effects model",
            "Biometrics",
            "50",
            "4",
            f"1171{EN_DASH}1177",
            "10.2307/2533455",
        ),
        Reference(
            "vallat2018",
            ("Vallat, R.",),
            "2018",
            "Pingouin: Statistics in Python",
            "Journal of Open Source Software",
            "3",
            "31",
            "1026",
            "10.21105/joss.01026",
        ),
        Reference(
            "virtanen2020",
            _SCIPY_AUTHORS,
            "2020",
            "SciPy 1.0: Fundamental algorithms for scientific computing in Python",
            "Nature Methods",
            "17",
            "3",
            f"261{EN_DASH}272",
            "10.1038/s41592-019-0686-2",
            omitted=15,
        ),
    )
}


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


def _sort_key(r: Reference) -> tuple[str, ...]:
    # APA 7 (9.44–9.46): by first author's family name letter by letter, then by the
    # following authors, then by year; "van der Walt" files under "v".
    return (*(f.casefold() for f in r.families), r.year)


def cite(*keys: str) -> str:
    """A parenthetical citation: ``(Self & Liang, 1987; Stram & Lee, 1994)``, works in
    APA order.

    Parameters
    ----------
    *keys : str
        Keys of :data:`REFERENCES`.

    Examples
    --------
    >>> cite("satterthwaite1946")
    '(Satterthwaite, 1946)'
    """
    refs = sorted((REFERENCES[k] for k in keys), key=_sort_key)
    return "(" + "; ".join(f"{r.names()}, {r.year}" for r in refs) + ")"


def cite_narrative(key: str) -> str:
    """A narrative citation: ``Bates et al. (2015)``.

    Examples
    --------
    >>> cite_narrative("vallat2018")
    'Vallat (2018)'
    """
    r = REFERENCES[key]
    return f"{r.names(narrative=True)} ({r.year})"


# An author–year citation as APA 7 writes it: "Satterthwaite, 1946", "Self & Liang,
# 1987", "Bates et al., 2015" (parenthetical) or "Self and Liang (1987)" (narrative).
# A family name is one capitalized word, optionally after lower-case particles ("van").
_NAME = r"(?:(?:van|von|de|der|del|da) )*[A-Z][\w'’-]+"
CITATION = re.compile(
    rf"(?P<names>{_NAME}(?: et al\.| (?:&|and) {_NAME})?)(?:, | \()"
    r"(?P<year>(?:1[6-9]|20)\d\d[a-z]?)\b"
)


def citations_in(text: str) -> set[tuple[str, str]]:
    """Every author–year citation in a text, as (names, year); ``and`` is read as ``&``.

    Examples
    --------
    >>> sorted(citations_in("as Self and Liang (1987) showed (Bates et al., 2015)"))
    [('Bates et al.', '2015'), ('Self & Liang', '1987')]
    """
    return {
        (m.group("names").replace(" and ", " & "), m.group("year")) for m in CITATION.finditer(text)
    }


def cited_keys(text: str) -> list[str]:
    """Keys of :data:`REFERENCES` cited in ``text``, in APA order.

    Examples
    --------
    >>> cited_keys("(Stram & Lee, 1994) and Satterthwaite (1946)")
    ['satterthwaite1946', 'stram1994']
    """
    found = citations_in(text)
    refs = [r for r in REFERENCES.values() if (r.names(), r.year) in found]
    return [r.key for r in sorted(refs, key=_sort_key)]


def _rich_texts(blocks: Iterable[Block]) -> Iterator[Rich]:
    for b in blocks:
        if isinstance(b, (Heading, Paragraph)):
            yield b.text
        elif isinstance(b, Table):
            yield b.note
            for r in b.rows:
                yield from r.cells
        elif isinstance(b, Figure):
            yield b.note


def manuscript_text(manuscript: Manuscript) -> str:
    """The plain text of every heading, paragraph, table cell and note of the manuscript."""
    parts = [manuscript.description]
    for s in manuscript.sections:
        parts.append(s.banner.plain)
        parts.extend(t.plain for t in _rich_texts(s.blocks))
    return "\n".join(parts)


def references_section(manuscript: Manuscript) -> Section | None:
    """The References section: an APA 7 entry for every work cited in the manuscript,
    or ``None`` when nothing is cited."""
    keys = cited_keys(manuscript_text(manuscript))
    if not keys:
        return None
    blocks = tuple(Paragraph(REFERENCES[k].entry(), "reference") for k in keys)
    return Section("references", "References", blocks)


def with_references(manuscript: Manuscript) -> Manuscript:
    """The manuscript with its References section after the main text: before the
    simulation check, design planning and provenance sections, which are about the
    workflow's run rather than the study."""
    section = references_section(manuscript)
    if section is None:
        return manuscript
    main = ("method", "results")
    sections = list(manuscript.sections)
    at = max(i for i, s in enumerate(sections) if s.key in main) + 1 if sections else 0
    sections.insert(at, section)
    return Manuscript(
        manuscript.title,
        manuscript.authors,
        manuscript.description,
        manuscript.date,
        tuple(sections),
    )
