"""Issue 11: a sentence of the manuscript can be found by searching the source for it.

Sentences are taken from a rendered manuscript (the shared workflow run) and each must
match ONE string of ``src/process_outcome/manuscript/`` in full: a string literal
(adjacent literals count as one, as Python joins them) or an f-string, in which the
placeholders, ``{name}`` of a :func:`~process_outcome.manuscript.quoting.fill` template
or an f-string's replacement field, stand for any text (the formatted numbers, labels
and statistics). A sentence built from several fragments matches no single string.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

MANUSCRIPT_SRC = ROOT / "src/process_outcome/manuscript"
PLACEHOLDER = re.compile(r"\{[^{}]*\}")

# How each checked sentence starts (or a part of it that only it contains).
SENTENCES = (
    "Baseline outcome scores were grand-mean centered.",
    "The fitted distribution of slopes",
    "given without a confidence interval or test because",
    "Comparison with the original report:",
    "differed in the within-therapist association of",
    "Figure 2 shows every therapist's slope",
    "Models were fitted by restricted maximum likelihood",
    "ratings were higher than those of their therapist's other patients",
    "With all processes in one model, controlling for baseline",
    "kept the significance (and, where significant, the direction)",
    "The others differed in at least one:",
)


SENTENCE_BREAK = re.compile(r"(?<=\.) (?=[A-Z])")
FIELD = "\x00"  # stands for an f-string's replacement field while splitting


def _text(node: ast.AST) -> str | None:
    """A string node's fixed text, each f-string field replaced by :data:`FIELD`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else FIELD for v in node.values)
    return None


def source_patterns() -> list[re.Pattern[str]]:
    """Each sentence of each string of the manuscript package, as a full-match pattern."""
    patterns = []
    for path in sorted(MANUSCRIPT_SRC.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = _text(node)
            if not text or len(text) < 20:
                continue
            for sentence in SENTENCE_BREAK.split(text.strip()):
                parts = PLACEHOLDER.split(sentence.replace(FIELD, "{}"))
                patterns.append(re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL))
    return patterns


def rendered_sentences(html_text: str) -> list[str]:
    """The sentences of the manuscript's paragraphs, as plain text."""
    sentences = []
    for para in re.findall(r"<p[^>]*>(.*?)</p>", html_text, re.DOTALL):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", para)).split())
        sentences += SENTENCE_BREAK.split(text)
    return sentences


@pytest.fixture(scope="module")
def sentences(workflow_run: Path) -> list[str]:
    text = (workflow_run / "results/report/manuscript.html").read_text(encoding="utf-8")
    return rendered_sentences(text)


@pytest.mark.parametrize("needle", SENTENCES)
def test_sentence_is_one_string_of_the_source(sentences, needle):
    found = [s for s in sentences if needle in s]
    assert found, f"no rendered sentence contains {needle!r}"
    patterns = source_patterns()
    for sentence in found:
        assert any(p.fullmatch(sentence) for p in patterns), (
            f"{sentence!r} is not one string of {MANUSCRIPT_SRC}"
        )


def test_a_fragmented_sentence_is_not_found():
    # The check can fail: a sentence whose wording is split by a rich-text part is not
    # one string of the source.
    sentence = (
        "Because the slope variance lies on the boundary of its parameter space under the "
        "null hypothesis, the p value came from a 50:50 mixture of χ² distributions with 1 "
        "and 2 degrees of freedom."
    )
    assert not any(p.fullmatch(sentence) for p in source_patterns())
