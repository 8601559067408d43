"""Issue 12, item 5: every author–year citation in the rendered manuscript has an entry in
its References section, every entry is cited, and the list is APA 7 in every format.

To cite a new work, add it to ``process_outcome.manuscript.references.REFERENCES``: a
citation without an entry, or an entry cited nowhere, fails here.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path

import pytest

import process_outcome.document as rp
from process_outcome.manuscript.references import (
    REFERENCES,
    Reference,
    citations_in,
    cite,
    cite_narrative,
    cited_keys,
)
from tests.unit.manuscript.test_print import SectionText


def test_citation_forms_follow_apa7():
    assert cite("satterthwaite1946") == "(Satterthwaite, 1946)"
    assert cite("stram1994", "self1987") == "(Self & Liang, 1987; Stram & Lee, 1994)"
    assert cite_narrative("bates2015") == "Bates et al. (2015)"
    assert cite_narrative("coyne2022") == "Coyne and Constantino (2022)"
    found = citations_in(
        "as Coyne and Constantino (2022) did (Bates et al., 2015; Self & Liang, 1987), "
        "with van der Berg (2001) and Mölder et al. (2021); not Table 3, 2015 or seed 2022"
    )
    assert found == {
        ("Coyne & Constantino", "2022"),
        ("Bates et al.", "2015"),
        ("Self & Liang", "1987"),
        ("van der Berg", "2001"),
        ("Mölder et al.", "2021"),
    }
    assert cited_keys("(Stram & Lee, 1994) and (Satterthwaite, 1946)") == [
        "satterthwaite1946",
        "stram1994",
    ]


def test_reference_entries_are_apa7():
    bates = REFERENCES["bates2015"].entry()
    assert bates.plain == (
        "Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). Fitting linear "
        "mixed-effects models using lme4. Journal of Statistical Software, 67(1), 1\u201348. "
        "https://doi.org/10.18637/jss.v067.i01"
    )
    # Journal and volume in italics, the issue not.
    italic = [r.text for r in bates if r.style == "i"]
    assert italic == ["Journal of Statistical Software", "67"]
    # More than 20 authors: the first 19, an ellipsis, the last.
    numpy = REFERENCES["harris2020"].byline()
    assert numpy.count(", . . . ") == 1 and numpy.endswith(". . . Oliphant, T. E.")
    group = Reference("g", ("A, B.", "Group Name"), "2020", "T", "J", omitted=25)
    assert group.entry().plain.startswith("A, B., . . . Group Name. (2020). T. J")
    for r in REFERENCES.values():
        text = r.entry().plain
        assert f"({r.year})." in text, text
        # A DOI where the work has one (a 2000 book chapter has none).
        assert text.endswith(f"https://doi.org/{r.doi}" if r.doi else "."), text
        family = unicodedata.normalize("NFKD", r.families[0].lower().split()[-1])
        assert r.key == family.encode("ascii", "ignore").decode() + r.year


def _citations(text: str) -> set[tuple[str, str]]:
    return citations_in(" ".join(text.split()))


@pytest.mark.e2e
def test_every_citation_has_an_entry_and_every_entry_is_cited(workflow_run: Path):
    html = workflow_run / "results/report/manuscript.html"
    sections = SectionText()
    sections.feed(html.read_text(encoding="utf-8"))
    listed = sections.of("references")
    others = [s for s in sections.text if s != "references"]
    cited = _citations(sections.of(*others))
    assert len(cited) >= 10
    entries = {(r.names(), r.year): r for r in REFERENCES.values()}
    missing = cited - set(entries)
    assert not missing, f"cited without an entry in references.py: {sorted(missing)}"
    # The References section lists exactly the works cited, each once, in APA order.
    shown = [r for r in REFERENCES.values() if f"https://doi.org/{r.doi}" in listed]
    assert {(r.names(), r.year) for r in shown} == cited
    starts = [listed.index(r.byline()) for r in shown]
    order = [r.key for _, r in sorted(zip(starts, shown, strict=True), key=lambda x: x[0])]
    assert order == cited_keys(sections.of(*others))
    # Every entry of the module is cited by the default study's manuscript.
    uncited = set(entries) - cited
    assert not uncited, f"entries in references.py that the text never cites: {uncited}"


@pytest.mark.e2e
def test_references_in_markdown_and_word(workflow_run: Path):
    md = (workflow_run / "results/report/manuscript.md").read_text(encoding="utf-8")
    refs = md.split("\n# References\n")[1].split("\n# ")[0]
    docx = zipfile.ZipFile(workflow_run / "results/report/manuscript.docx")
    xml = docx.read("word/document.xml").decode("utf-8")
    words = re.sub(r"<[^>]+>", "", xml)
    for r in REFERENCES.values():
        assert f"https://doi.org/{r.doi}" in refs
        assert f"*{r.source}*" in refs
        assert f"https://doi.org/{r.doi}" in words
    # Word: hanging indent of 0.5 in (720 twips), the list on a new page.
    assert xml.count('w:hanging="720"') == len(REFERENCES)
    assert "References" in words


def test_latex_references():
    section = rp.Section(
        "references",
        "References",
        tuple(rp.Paragraph(REFERENCES[k].entry(), "reference") for k in ("bates2015",)),
    )
    tex = rp.render_latex_references(section)
    assert "\\textit{Journal of Statistical Software}, \\textit{67}(1)" in tex
    assert "\\url{https://doi.org/10.18637/jss.v067.i01}" in tex
    assert "M\u00e4chler" in tex or 'M\\"achler' in tex


def test_chapter_and_multi_author_entries_of_the_multilevel_methods():
    bliese = REFERENCES["bliese2000"].entry().plain
    assert bliese == (
        "Bliese, P. D. (2000). Within-group agreement, non-independence, and reliability: "
        "Implications for data aggregation and analysis. In K. J. Klein & S. W. J. Kozlowski "
        "(Eds.), Multilevel theory, research, and methods in organizations (pp. 349–381). "
        "Jossey-Bass."
    )
    ludtke = REFERENCES["ludtke2008"]
    assert ludtke.names() == "Lüdtke et al."
    assert ludtke.entry().plain.startswith("Lüdtke, O., Marsh, H. W., Robitzsch, A.")
    assert ludtke.entry().plain.endswith("https://doi.org/10.1037/a0012869")
    assert REFERENCES["rights2019"].names() == "Rights & Sterba"
