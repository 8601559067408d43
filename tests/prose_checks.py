"""Checks of a rendered manuscript's prose that hold whatever the study: the reader's view.

The manuscript is read as the Markdown the workflow writes (``results/report/
manuscript.md``): blocks separated by blank lines, ATX headings, pipe tables, fenced
code, ``**Table N**`` / ``**Figure N**`` labels followed by an italic title, ``*Note.*``
paragraphs. :func:`check_manuscript` returns every :class:`Defect` found:

- ``capital``: a sentence of the text does not start with a capital letter (a note
  may start a sentence with a statistic's symbol, such as *n* or γ, or a footnote
  letter);
- ``full stop``: a paragraph does not end with a full stop;
- ``missing full stop``: a common sentence opener ("Because", "The", ...) follows a
  lower-case word without punctuation: two sentences run together;
- ``placeholder``: ``None``, ``nan``, ``NaN``, ``inf``, ``{{``, ``}}``, ``{%`` or ``%}``
  anywhere outside code;
- ``empty parentheses``: ``()``, ``[]`` or a parenthesis opening or closing on a
  separator, such as ``(, ...)``;
- ``doubled word``: the same word twice in a row ("the the");
- ``punctuation``: doubled punctuation or a space before a comma or full stop;
- ``agreement``: "one" before a plural count noun ("across the one characteristics");
- ``missing table`` / ``missing figure`` / ``missing appendix``: the text cites a table,
  figure or appendix the document does not have;
- ``uncited table`` / ``uncited figure``: a printed table or figure that no text outside
  its own title and note mentions (APA 7, section 7.5).

Sentence splitting knows APA style: abbreviations (e.g., i.e., et al., vs., cf.),
initials, decimals without a leading zero (*p* = .05), intervals (95% CI [.., ..]) and
significance legends do not end or start sentences; headings, table rows, table and
figure titles, images, code and the reference list are not sentences.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

__all__ = [
    "Block",
    "Defect",
    "blocks",
    "check_manuscript",
    "check_sentences",
    "check_tokens",
    "plain",
    "sentences",
]


@dataclasses.dataclass(frozen=True)
class Block:
    """One block of the Markdown document.

    ``kind`` is one of ``heading``, ``paragraph``, ``note``, ``quote``, ``list``,
    ``table``, ``code``, ``image``, ``equation``, ``label``, ``title``, ``byline`` and
    ``reference``; ``section``
    is the text of the nearest heading above it.
    """

    kind: str
    text: str
    section: str


@dataclasses.dataclass(frozen=True)
class Defect:
    """One defect: which check found it, the offending sentence (or block) and where."""

    check: str
    text: str
    section: str

    def __str__(self) -> str:
        return f"[{self.check}] ({self.section}) {self.text}"


LABEL = re.compile(r"^\*\*(Table|Figure) (S?\d+)\*\*$")
# Names under the title: capitalized words, commas, "and", "&" (no full stop).
BYLINE = re.compile(
    r"(?:[A-Z][\w.’'-]*|and|&|van|von|de|der|,)(?:[ ,]+(?:[A-Z][\w.’'-]*|and|&|van|von|de|der))*"
)
# A display equation: a formula numbered "(1)" at the end of its line.
EQUATION = re.compile(r"=.*\s\(\d+\)$")
REFERENCE_SECTIONS = ("References",)


def blocks(markdown: str) -> list[Block]:
    """The document's blocks in order.

    >>> [b.kind for b in blocks("# A\\n\\nText.\\n\\n**Table 1**\\n\\n*Title*\\n\\n| a |\\n")]
    ['heading', 'paragraph', 'label', 'title', 'table']
    """
    out: list[Block] = []
    section = ""
    lines = markdown.splitlines()
    i = 0
    previous = ""
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append(Block("code", "\n".join(lines[i + 1 : j]), section))
            i = j + 1
            previous = "code"
            continue
        j = i
        while j < len(lines) and lines[j].strip() and not lines[j].startswith("```"):
            j += 1
        text = "\n".join(lines[i:j])
        i = j
        if text.startswith("#"):
            section = text.lstrip("#").strip()
            kind = "heading"
        elif text.startswith("|"):
            kind = "table"
        elif text.startswith("!["):
            kind = "image"
        elif LABEL.match(text):
            kind = "label"
        elif "\n" not in text and re.fullmatch(r"\*[^*].*\*|\*\*[^*].*\*\*", text):
            # The italic title under a table or figure label, or a run-in heading line
            # (*Input Files*).
            kind = "title"
        elif EQUATION.search(text):
            kind = "equation"
        elif previous == "heading" and len(out) == 1 and BYLINE.fullmatch(text) and text[-1] != ".":
            kind = "byline"  # the authors' names under the document's title
        elif text.startswith("*Note.*"):
            kind = "note"
        elif text.startswith(">"):
            kind = "quote"
            text = re.sub(r"^>\s?", "", text, flags=re.MULTILINE)
        elif re.match(r"^([-*+]|\d+\.) ", text):
            kind = "list"
        elif section in REFERENCE_SECTIONS:
            kind = "reference"
        else:
            kind = "paragraph"
        out.append(Block(kind, text, section))
        previous = kind
    return out


def plain(markdown: str) -> str:
    """Inline Markdown as the reader sees it: no emphasis, sub- or superscript marks,
    escapes or line breaks; code spans become the word ``Code``.

    >>> plain(r"*r*~rm~(514) = −.05, 95% CI \\[−.13, .04\\]")
    'rrm(514) = −.05, 95% CI [−.13, .04]'
    """
    text = re.sub(r"`[^`]*`", "Code", markdown)
    # Escaped characters are literal: set them aside while the marks go.
    escaped: list[str] = []

    def keep(m: re.Match[str]) -> str:
        escaped.append(m.group(1))
        return f"\x00{len(escaped) - 1}\x00"

    text = re.sub(r"\\(.)", keep, text)
    text = re.sub(r"\^[^^\s]{1,3}\^", "", text)  # footnote letters and exponents
    text = re.sub(r"\*+|~", "", text)
    text = re.sub(r"\x00(\d+)\x00", lambda m: escaped[int(m.group(1))], text)
    return " ".join(text.split())


# A full stop after one of these (or after an initial) does not end a sentence.
ABBREVIATIONS = {
    "e.g",
    "i.e",
    "al",
    "vs",
    "cf",
    "approx",
    "ca",
    "no",
    "nos",
    "dr",
    "pp",
    "p",
    "vol",
    "ed",
    "eds",
    "fig",
    "resp",
    "etc",
}
BOUNDARY = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+")


def sentences(text: str) -> list[str]:
    """Split plain text into sentences.

    >>> sentences("Values differed, e.g., by arm (Lüdtke et al., 2008), p = .05. Next one.")
    ['Values differed, e.g., by arm (Lüdtke et al., 2008), p = .05.', 'Next one.']
    """
    out: list[str] = []
    start = 0
    for m in BOUNDARY.finditer(text):
        before = text[start : m.start()]
        word = re.search(r"([\w.]+)[.!?][\"”’)\]]*$", before)
        token = word.group(1).lower() if word else ""
        if token in ABBREVIATIONS or re.fullmatch(r"[A-Z]", word.group(1) if word else ""):
            continue
        out.append(text[start : m.start()].strip())
        start = m.end()
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out


# What a note may open a sentence with besides a capital: a lower-case statistic
# symbol (*n* = ..., *p* < .05), a Greek letter (γ = ...) or a significance legend star.
SYMBOL_START = re.compile(r"^(\*+|[α-ωΑ-Ωχ—–\d]|(n|p|r|t|z|d|df|pFDR|rrm)\b)")
OPENERS = (
    "A An As At Because Both But Each For However If In It Its No Of On Since That The "
    "Their There These They This Those Thus Though Although When Where Whether While With "
    "Therapists Patients Among Across Standardized Effect Strengths Comparison"
).split()
RUN_ON = re.compile(r"\b[a-z][\w’'-]*[a-z0-9)] (" + "|".join(OPENERS) + r") ")


def _sentence_defects(sentence: str, note: bool, first: bool, after_display: bool) -> Iterator[str]:
    body = sentence.lstrip("([“\"'")
    if not body:
        return
    # "where Y is ..." continues the sentence of a display equation.
    continues = first and after_display and body.startswith("where ")
    if not body[0].isupper() and not (note and SYMBOL_START.match(body)) and not continues:
        yield "capital"
    for m in RUN_ON.finditer(sentence):
        yield f"missing full stop:{m.group(0)}"


def check_sentences(
    block: Block, before_display: bool = False, after_display: bool = False
) -> list[Defect]:
    """Sentence-level checks of one prose block (paragraph, note or quote).

    A block before a display (equation, list or code) may end with a colon; one after an
    equation may continue its sentence ("where ...").

    >>> [d.check for d in check_sentences(Block("paragraph", "One. two", "Results"))]
    ['capital', 'full stop']
    """
    text = plain(block.text)
    found: list[Defect] = []
    note = block.kind == "note"
    for i, sentence in enumerate(sentences(text)):
        for check in _sentence_defects(sentence, note, i == 0, after_display):
            name, _, where = check.partition(":")
            shown = sentence + (f"  <<{where.strip()}>>" if where else "")
            found.append(Defect(name, shown, block.section))
    end = r"[.:][\"”’)\]]*$" if before_display else r"\.[\"”’)\]]*$"
    if not re.search(end, text):
        last = sentences(text)[-1] if text else text
        found.append(Defect("full stop", last, block.section))
    return found


PLACEHOLDER = re.compile(r"\b(None(?! of)|nan|NaN|NaT|inf|Infinity)\b|\{\{|\}\}|\{%|%\}")
EMPTY = re.compile(r"\(\s*\)|\[\s*\]|\(\s*[,;:]|[,;:]\s*\)|\[\s*[,;]|[,;]\s*\]")
DOUBLED = re.compile(r"\b([^\W\d_]+)\s+\1\b", re.IGNORECASE)
# Doubled separators, ".." that is no ellipsis, a space before a comma or full stop.
PUNCTUATION = re.compile(r"[,;:]\s*[,;:]|(?<![.\d])\.\.(?![.\d])|\s,|\s\.(?=\s|$)")


# "one" (or "all one") before a plural count noun: "the one characteristics".
AGREEMENT = re.compile(
    r"(?<![.,\d])\b(?:all one|one|1)\s+(?!(?:of|or|and|to|per|in|from|with|than)\b)(?:[a-z-]+\s+)?"
    r"(?:characteristics|analyses|therapists|patients|processes|outcomes|models|estimates|"
    r"variants|moderators|interactions|tests|fits|slopes)\b"
)


def check_tokens(block: Block) -> list[Defect]:
    """Checks of any text outside code: placeholders, empty parentheses, doubled words
    and doubled punctuation (tables cell by cell).

    >>> [d.check for d in check_tokens(Block("paragraph", "It was None ( ) of of", "R"))]
    ['placeholder', 'empty parentheses', 'doubled word']
    """
    if block.kind in ("code", "image"):
        return []
    parts = [block.text]
    if block.kind == "table":
        parts = [c for row in block.text.splitlines() for c in row.strip("|").split("|")]
    found: list[Defect] = []
    for part in parts:
        text = plain(part)
        for name, pattern in (
            ("placeholder", PLACEHOLDER),
            ("empty parentheses", EMPTY),
            ("doubled word", DOUBLED),
            ("punctuation", PUNCTUATION),
            ("agreement", AGREEMENT),
        ):
            # References keep APA's ". . ." and table cells hold bare symbols.
            if name == "punctuation" and block.kind in ("table", "reference"):
                continue
            for m in pattern.finditer(text):
                found.append(Defect(name, _around(text, m), block.section))
    return found


def _around(text: str, m: re.Match[str], width: int = 80) -> str:
    start, end = max(0, m.start() - width), min(len(text), m.end() + width)
    return f"…{text[start : m.start()]}<<{m.group(0)}>>{text[m.end() : end]}…"


CITED = re.compile(
    r"\b(?:(Table|Figure) (S?\d+(?:–S?\d+)?)\b"
    r"|(Tables|Figures) (S?\d+(?:\s*(?:,|and|or|–|-|to)\s*S?\d+)*))"
)


def _numbers(spec: str) -> list[str]:
    """``"1–3"`` -> 1, 2, 3; ``"2 and 4"`` -> 2, 4; ``"S1"`` -> S1."""
    out: list[str] = []
    for m in re.finditer(r"(S?)(\d+)(?:\s*(?:–|-|to)\s*S?(\d+))?", spec):
        prefix, first, last = m.group(1), int(m.group(2)), m.group(3)
        out += [f"{prefix}{n}" for n in range(first, int(last or first) + 1)]
    return out


def citations(markdown_blocks: list[Block]) -> list[tuple[str, str, Block]]:
    """Every (kind, number, block) a text block cites: ``("Table", "3", block)``."""
    found = []
    for b in markdown_blocks:
        if b.kind in ("code", "image", "label", "heading", "table"):
            continue
        for m in CITED.finditer(plain(b.text)):
            word, spec = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            kind = "Table" if word.startswith("Table") else "Figure"
            found += [(kind, n, b) for n in _numbers(spec)]
    return found


def check_references(markdown_blocks: list[Block]) -> list[Defect]:
    """Every cited table, figure and appendix exists; every printed one is cited.

    >>> bs = blocks("As Table 2 shows.\\n\\n**Table 1**\\n\\n*T*\\n\\n| a |\\n")
    >>> [d.check for d in check_references(bs)]
    ['missing table', 'uncited table']
    """
    labels = {(m.group(1), m.group(2)) for b in markdown_blocks if (m := LABEL.match(b.text))}
    found: list[Defect] = []
    cited = citations(markdown_blocks)
    for kind, number, b in cited:
        if (kind, number) not in labels:
            found.append(
                Defect(
                    f"missing {kind.lower()}", f"{kind} {number}: {plain(b.text)[:300]}", b.section
                )
            )
    # A table's own title and note do not count as citing it.
    owner: dict[int, tuple[str, str]] = {}
    current: tuple[str, str] | None = None
    for i, b in enumerate(markdown_blocks):
        if m := LABEL.match(b.text):
            current = (m.group(1), m.group(2))
        elif b.kind in ("heading", "paragraph", "quote", "list"):
            current = None
        if current and b.kind in ("title", "note", "image", "table"):
            owner[i] = current
    index = {id(b): i for i, b in enumerate(markdown_blocks)}
    referenced = {
        (kind, number) for kind, number, b in cited if owner.get(index[id(b)]) != (kind, number)
    }
    for kind, number in sorted(labels - referenced):
        found.append(Defect(f"uncited {kind.lower()}", f"{kind} {number}", ""))
    appendix = any(b.kind == "heading" and "Appendix" in b.text for b in markdown_blocks)
    for b in markdown_blocks:
        if b.kind in ("paragraph", "note", "quote") and re.search(r"\bAppendix\b", b.text):
            if not appendix:
                found.append(Defect("missing appendix", plain(b.text)[:300], b.section))
    return found


def check_manuscript(markdown: str) -> list[Defect]:
    """Every defect of the rendered Markdown manuscript (empty for a clean one).

    >>> [str(d) for d in check_manuscript("# Results\\n\\nIt was large (Table 1).\\n")]
    ['[missing table] (Results) Table 1: It was large (Table 1).']
    """
    bs = blocks(markdown)
    found: list[Defect] = []
    displays = ("equation", "code", "list")
    for i, b in enumerate(bs):
        if b.kind in ("paragraph", "note", "quote"):
            before = i + 1 < len(bs) and bs[i + 1].kind in displays
            after = i > 0 and bs[i - 1].kind == "equation"
            found += check_sentences(b, before_display=before, after_display=after)
        found += check_tokens(b)
    found += check_references(bs)
    return found
