"""References: every work the package's text cites is an entry of its ``.bib`` file,
every entry is cited by the default study's manuscript, and citeproc prints them in APA 7
style in every format."""

from __future__ import annotations

import re
import zipfile
from html import unescape
from pathlib import Path

import pytest

from process_outcome.manuscript.references import bib_keys, cite, cited_keys
from tests.conftest import ROOT

BIB = ROOT / "workflow" / "templates" / "manuscript" / "references.bib"
SOURCES = [
    *(ROOT / "src" / "process_outcome" / "manuscript").glob("*.py"),
    *(ROOT / "workflow" / "templates").rglob("*.j2"),
]


def test_citation_syntax_is_pandocs():
    assert cite("bates2015", "kuznetsova2017") == "[@bates2015; @kuznetsova2017]"


def test_every_key_the_package_cites_is_in_its_bib():
    used = set()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        used |= set(cited_keys(text))
        used |= set(re.findall(r"cite(?:_narrative)?\(\s*\"(\w+)\"", text))
    missing = used - bib_keys([BIB])
    assert not missing, f"cited but not in {BIB.name}: {sorted(missing)}"


@pytest.mark.e2e
def test_every_entry_is_cited_and_listed_in_every_format(workflow_run: Path):
    html = (workflow_run / "results/report/manuscript.html").read_text(encoding="utf-8")
    listed = set(re.findall(r'<div id="ref-([^"]+)" class="csl-entry"', html))
    assert listed == bib_keys([BIB]), "every entry of the package's .bib is cited"
    # APA 7: author-date in the text, DOI as URL in the list.
    text = " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())
    assert re.search(r"\(Coyne & Constantino, 2022\)|Coyne (&|and) Constantino \(2022\)", text)
    assert "https://doi.org/10.1037/ccp0000676" in text
    xml = zipfile.ZipFile(workflow_run / "results/report/manuscript.docx").read("word/document.xml")
    words = re.sub(r"<[^>]+>", "", xml.decode("utf-8"))
    assert "https://doi.org/10.1037/ccp0000676" in words and "References" in words
