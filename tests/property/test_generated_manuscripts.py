"""The manuscript reads right on studies unlike ours (issue 17, "Tests that check what
matters").

Every study of :data:`tests.studies.DESIGNS` (one to three processes, one or two
outcomes, no, continuous and binary moderators, singular and non-singular fits,
significant and null effects, robustness variants on, off and failing, design-planning
results present or absent, tiny, one-patient and extreme caseloads, ids like T01 or
first names, simulated data and data files) has its results made and its manuscript
rendered (tests/studies.py); then

- its prose passes :func:`tests.prose_checks.check_manuscript` (sentences start with a
  capital and end with a full stop; no None, nan, ``{{``, empty parentheses or doubled
  words; every table and figure cited exists and every printed one is cited);
- every number the manuscript marks with its source traces to that CSV cell, and the
  Results prose prints no other number (the mechanism of
  tests/unit/manuscript/test_report.py);
- no therapist or patient id of the input files appears in it;
- and the studies do cover the variety they claim (read from their results).

Defects of the current prose that the manuscript rewrite is to fix are listed in
:data:`KNOWN_DEFECTS`: the per-study tests pass over them, and one strict xfail test per
entry fails loudly (XPASS) once the defect is gone, so that its entry is removed.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from pandera.errors import SchemaError

from process_outcome.config import measures
from tests.prose_checks import Defect, check_manuscript
from tests.studies import DESIGNS, Design, Study, manuscript_html, manuscript_markdown
from tests.unit.manuscript.test_report import (
    NOT_STATISTICS,
    ManuscriptHTML,
    assert_printed,
    source_value,
)

pytestmark = pytest.mark.property

# Defects of the current prose, each: (checks, pattern of the offending sentence, reason).
KNOWN_DEFECTS: dict[str, tuple[set[str], re.Pattern[str], str]] = {
    "aim2-slope-correlation-run-on": (
        {"capital", "missing full stop"},
        re.compile(
            r"tended to benefit (more|less) from the other|^for post-treatment .* slopes of"
        ),
        "issue 17: the Aim 2 paragraph on the correlation of non-singular slope models "
        "(manuscript/results_aim2.py) loses its full stops: '... on two processes. for "
        "post-treatment ...' and '... from the other Because ...'",
    ),
    "one-with-plural": (
        {"agreement"},
        re.compile(r"one characteristics|one variants|all one robustness analyses"),
        "counts of one read as plurals: 'adjusted across the one characteristics' (Table 4 "
        "note), 'under one variants' (Method), 'in all one robustness analyses' (Results)",
    ),
}


# The levels of a binary characteristic, where its label was: "for therapists coded 1",
# "at <label> = 0" (conventions, not statistics).
BINARY_LEVELS = re.compile(r"\bcoded [01]\b|\bat\s+= [01]\b")
# Embedded images, whose base64 text may contain anything.
DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")


# Studies the workflow cannot finish today, by design name: their tests are strict
# xfails (raising this error), so that a fix shows as XPASS and the entry is removed.
SLOPE_CORRELATION_NAN = (
    "aim 2: when both slope models of a pair are singular at a zero slope variance the "
    "empirical-Bayes slopes are constant, their correlation is NaN and the "
    "aim2_slope_correlations contract (analysis/tables.py) stops results_tables with a "
    "pandera traceback"
)
KNOWN_BUILD_FAILURES: dict[str, tuple[type[BaseException], str]] = {
    "s17006": (SchemaError, SLOPE_CORRELATION_NAN),
    "s17034": (SchemaError, SLOPE_CORRELATION_NAN),
    "s17044": (SchemaError, SLOPE_CORRELATION_NAN),
}


def _designs() -> list:
    params = []
    for d in DESIGNS:
        marks = []
        if d.name in KNOWN_BUILD_FAILURES:
            error, reason = KNOWN_BUILD_FAILURES[d.name]
            marks = [pytest.mark.xfail(strict=True, raises=error, reason=reason)]
        params.append(pytest.param(d, id=d.name, marks=marks))
    return params


def _built(studies: dict[Design, Study | BaseException]) -> list[Study]:
    return [s for s in studies.values() if isinstance(s, Study)]


def _known(defect: Defect) -> str | None:
    for key, (checks, pattern, _) in KNOWN_DEFECTS.items():
        if defect.check in checks and pattern.search(defect.text):
            return key
    return None


def _study(studies: dict[Design, Study | BaseException], design: Design) -> Study:
    built = studies[design]
    if isinstance(built, BaseException):
        raise built
    return built


def _report(design: Design, defects: list[Defect]) -> str:
    return f"generated study {design.describe()}:\n" + "\n".join(f"  {d}" for d in defects)


@pytest.mark.parametrize("design", _designs())
def test_prose_reads_as_sentences(generated_studies, design):
    study = _study(generated_studies, design)
    defects = [d for d in check_manuscript(manuscript_markdown(study)) if not _known(d)]
    assert not defects, _report(design, defects)


@pytest.mark.parametrize("design", _designs())
def test_every_printed_number_traces_to_its_cell(generated_studies, design):
    study = _study(generated_studies, design)
    parser = ManuscriptHTML()
    parser.feed(DATA_URI.sub("", manuscript_html(study)))
    assert len(parser.stats) > 50, design.describe()
    for section, attrs, printed in parser.stats:
        value = source_value(
            study.directory, attrs["data-source"], attrs["data-key"], attrs["data-column"]
        )
        where = f"{design.describe()}: {section} {attrs}"
        assert_printed(printed, value * float(attrs.get("data-scale", 1.0)), where)
    # The Results prose prints no number that is not so marked (table and figure
    # numbers, conventions and the measures' labels aside).
    labels = [m.label for m in measures(study.config)]
    labels += [v["label"] for v in study.config["robustness"]]
    for paragraph in parser.paragraphs:
        rest = NOT_STATISTICS.sub("", paragraph)
        for label in labels:
            rest = rest.replace(label, "").replace(label[:1].lower() + label[1:], "")
        rest = BINARY_LEVELS.sub("", rest)
        assert not re.search(r"\d", rest), f"{design.describe()}: untraced number in: {rest}"


class SectionParagraphs(ManuscriptHTML):
    """:class:`ManuscriptHTML` that also keeps the prose of one other section, with each
    number that carries its source cell replaced by ``§``."""

    def __init__(self, section: str) -> None:
        super().__init__()
        self.wanted = section
        self.other: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        super().handle_starttag(tag, attrs)
        note = "note" in (dict(attrs).get("class") or "")
        if tag == "p" and self.section == self.wanted and not note:
            self.other.append([])

    def handle_endtag(self, tag):
        if tag == "span" and self._stat is not None and self.section == self.wanted:
            if self.other:
                self.other[-1].append("§")
        super().handle_endtag(tag)

    def handle_data(self, data):
        if self._stat is None and self.section == self.wanted and self.other:
            self.other[-1].append(data)
        super().handle_data(data)


def test_design_planning_numbers_trace_to_cells(generated_studies, request):
    request.applymarker(
        pytest.mark.xfail(
            strict=True,
            reason="issue 17: the design-planning section (manuscript/power.py, "
            "_power.html.j2) prints its numbers without source cells",
        )
    )
    untraced = []
    for study in (s for s in _built(generated_studies) if s.design.power):
        design = study.design
        parser = SectionParagraphs("power")
        parser.feed(DATA_URI.sub("", manuscript_html(study)))
        assert parser.other, f"{design.describe()}: no design-planning section"
        for words in parser.other:
            rest = NOT_STATISTICS.sub("", "".join(words))
            untraced += [f"{design.name}: {m}" for m in re.findall(r"\S*\d\S*", rest)]
    assert not untraced, f"untraced numbers: {untraced[:10]}"


def _input_ids(study: Study) -> set[str]:
    cols = study.config["data"]["columns"]
    if study.config["data"]["source"] == "simulate":
        folder = study.results / "data" / "simulated"
        files = [folder / f"{n}.csv" for n in ("sessions", "therapists", "patients")]
    else:
        files = [study.directory / p for p in study.config["data"]["files"].values() if p]
    ids: set[str] = set()
    for path in files:
        table = pd.read_csv(path, dtype=str)
        for column in (cols["patient"], cols["therapist"]):
            if column in table:
                ids |= set(table[column].dropna())
    return ids


@pytest.mark.parametrize("design", _designs())
def test_no_patient_or_therapist_id_is_printed(generated_studies, design):
    study = _study(generated_studies, design)
    ids = _input_ids(study)
    assert len(ids) > design.n_therapists
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(ids))) + r")\b")
    for text in (manuscript_markdown(study), DATA_URI.sub("", manuscript_html(study))):
        found = sorted(set(pattern.findall(text)))
        assert not found, f"{design.describe()}: ids printed: {found[:10]}"


@pytest.mark.parametrize("key", sorted(KNOWN_DEFECTS))
def test_known_defect_is_gone(generated_studies, key, request):
    """Fails (xfail) while a study shows the known defect; passes, and so fails the
    strict xfail, once the prose is fixed: then remove the entry."""
    request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[key][2]))
    shown = []
    for study in _built(generated_studies):
        shown += [
            f"{study.design.name}: {d}"
            for d in check_manuscript(manuscript_markdown(study))
            if _known(d) == key
        ]
    assert not shown, "\n".join(shown[:5])


def _table(study: Study, name: str) -> pd.DataFrame:
    path = study.results / "tables" / f"{name}.csv"
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def test_the_studies_cover_what_they_claim(generated_studies):
    built = _built(generated_studies)
    assert len(built) >= 50
    slopes = pd.concat([_table(s, "aim2_slope_tests") for s in built])
    moderation = pd.concat([_table(s, "aim3_moderation") for s in built])
    correlations = pd.concat([_table(s, "aim2_slope_correlations") for s in built])
    robustness = pd.concat([_table(s, "robustness") for s in built])
    patients = [pd.read_csv(s.results / "data" / "patients.csv", dtype=str) for s in built]
    caseloads = [p["therapist"].value_counts() for p in patients]
    assert {True, False} <= set(slopes["singular"]), "singular and non-singular fits"
    assert (slopes["p_mixture"] < 0.05).any() and (slopes["p_mixture"] >= 0.05).any()
    assert (moderation["p"] < 0.05).any() and (moderation["p"] >= 0.05).any()
    assert (~correlations["singular"].astype(bool)).any(), "a non-singular slope correlation"
    assert robustness["problem"].notna().any(), "a robustness variant that cannot be fitted"
    assert any(c.eq(1).mean() >= 0.5 for c in caseloads), "most therapists with one patient"
    assert any(c.max() >= 0.25 * c.sum() for c in caseloads), "one therapist, many patients"
    assert min(c.sum() for c in caseloads) < 30, "a very small study"
    designs = [s.design for s in built]
    config_of = {s.design: s.config for s in built}
    kinds = {
        tuple(sorted({config_of[d]["measures"]["moderators"][m]["type"] for m in d.moderators}))
        for d in designs
    }
    assert {(), ("continuous",), ("binary",), ("binary", "continuous")} <= kinds
    assert {len(d.processes) for d in designs} == {1, 2, 3}
    assert {len(d.outcomes) for d in designs} == {1, 2}
    assert {bool(d.robustness) for d in designs} == {True, False}
    assert {d.power for d in designs} == {True, False}
    assert {d.ids for d in designs} == {"simulator", "T01", "names"}
    assert {d.simulate for d in designs} == {True, False}
    assert all((s.results / "power" / "power.csv").is_file() == s.design.power for s in built)
