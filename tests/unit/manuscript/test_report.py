"""The manuscript report: APA formatting, Results wording, and the rendered files.

Unit tests build the manuscript from small hand-made results tables (milliseconds);
end-to-end tests check the files of the shared workflow run against its results
tables: every number quoted in the Results text of ``manuscript.html`` and every value
of Tables 1–4 in ``manuscript.docx`` must equal the results file it came from, rounded
as printed.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import math
import os
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import process_outcome.document as rp
from process_outcome import provenance
from process_outcome.analysis.tables import SLOPE_CORRELATION_COLUMNS
from process_outcome.config import validate_config
from process_outcome.files import sha256_file
from process_outcome.manuscript.appendix import (
    appendix_section,
    collect_provenance,
    plain_mapping,
    run_date,
)
from process_outcome.manuscript.build import all_tables, build_manuscript, write_manuscript
from process_outcome.manuscript.inputs import (
    Design,
    InputFile,
    Provenance,
    Results,
)
from process_outcome.manuscript.method_analysis import analytic_strategy
from process_outcome.manuscript.results import aim1_results
from process_outcome.manuscript.results_aim2 import aim2_results
from process_outcome.manuscript.results_aim3 import aim3_results
from process_outcome.outputs import outputs
from tests.conftest import ROOT, SCHEMA, run_snakemake

FIGURES = [o.name for o in outputs(folder="figures")]

MINUS = "\u2212"


# ------------------------------------------------------------------ formatting


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0342, "= .034"),
        (0.0004, "< .001"),
        (0.001, "= .001"),
        (0.04999, "= .050"),
        (0.99995, "> .999"),
        (float("nan"), "\u2013"),
        (None, "\u2013"),
    ],
)
def test_apa_p(p, text):
    assert rp.apa_p(p) == text


def test_numbers_have_true_minus_and_no_negative_zero():
    assert rp.apa_number(-0.6004) == f"{MINUS}0.60"
    assert rp.apa_number(-0.0004) == "0.00"  # rounds to zero: no sign
    assert rp.apa_number(1234.5, 1) == "1234.5"
    assert "-" not in rp.apa_number(-3.2)


def test_no_leading_zero_for_bounded_statistics():
    assert rp.apa_r(0.25) == ".25"
    assert rp.apa_r(-0.219) == f"{MINUS}.22"
    assert rp.apa_r(1.0) == "1.00"
    assert rp.apa_p_value(0.0342) == ".034"


def test_df_and_decimals():
    assert rp.apa_df(254.73) == "254.7"
    assert rp.apa_df(967) == "967"
    assert rp.digits_for(0.10) == 2
    assert rp.digits_for(0.053) == 3
    assert rp.digits_for(0.0071) == 4


def test_fixed_effect_in_apa_style():
    row = {
        "estimate": -0.6012,
        "se": 0.1004,
        "df": 254.73,
        "t": -6.33,
        "p": 3e-10,
        "ci_low": -0.7912,
        "ci_high": -0.4201,
    }
    text = rp.t_test_text(row, rp.ref("aim1_fixed_effects", outcome="o"))
    expected = "γ = −0.60, SE = 0.10, t(254.7) = −6.33, p < .001, 95% CI [−0.79, −0.42]"
    assert text.plain == expected.replace("−", MINUS)
    html = str(rp.html_rich(text))
    # Statistic symbols italic, Greek upright (APA 7), every number tied to its cell.
    assert "<em>SE</em>" in html and "<em>t</em>" in html and "<em>p</em>" in html
    assert "<em>γ</em>" not in html
    assert html.count('class="stat"') == 7
    assert 'data-column="ci_high"' in html


def test_every_format_escapes_text():
    text = rp.rich("a <b> & c_d * [x]", rp.it("p"))
    assert "&lt;b&gt; &amp;" in str(rp.html_rich(text))
    assert r"c\_d \* \[x\]" in rp.markdown_rich(text)
    assert rp.markdown_rich(rp.it("Note. ")) == "*Note.* "
    assert r"\&" in rp.latex_rich(text) and r"c\_d" in rp.latex_rich(text)
    assert rp.tex_escape(f"{MINUS}0.5 γ") == r"$-$0.5 $\gamma$"


# ------------------------------------------------------------ hand-made study


def _config(moderators: bool = True) -> dict:
    raw = {
        "study": {"title": "Bonds and well-being"},
        "data": {
            "source": "files",
            "files": {"sessions": "s.csv", "therapists": "t.csv"},
        },
        "measures": {
            "outcomes": {
                "wellbeing": {"column": "wb", "label": "Well-being", "higher_is": "better"}
            },
            "processes": {"bond": {"column": "bd", "label": "Bond", "range": [0, 6]}},
            "moderators": (
                {"years": {"column": "yrs", "label": "Years in practice", "type": "continuous"}}
                if moderators
                else {}
            ),
        },
    }
    return validate_config(raw, SCHEMA)


def _fixed(outcome, process, terms, singular=False):
    rows = []
    for term, est, se, p in terms:
        rows.append(
            {
                "outcome": outcome,
                "process": process,
                "term": term,
                "estimate": est,
                "se": se,
                "df": 40.37,
                "t": est / se,
                "p": p,
                "ci_low": est - 2 * se,
                "ci_high": est + 2 * se,
                "singular": singular,
            }
        )
    return rows


def _fit(random_slope=None, singular=False, theta=(0.5,), vc=None, n_obs=60):
    return {
        "random_slope": random_slope,
        "singular": singular,
        "converged": True,
        "theta": list(theta),
        "variance_components": vc or {"therapist|(Intercept)|": 0.04, "Residual||": 0.3},
        "n_obs": n_obs,
        "n_groups": 12,
    }


def _results(moderators: bool = True, interaction_p: float = 0.004) -> Results:
    terms1 = [
        ("(Intercept)", 0.5, 0.1, 0.001),
        ("baseline_wellbeing_c", 0.6, 0.08, 1e-6),
        ("bond_within", 0.35, 0.1, 0.0008),  # higher bond, higher well-being: beneficial
        ("bond_between", 0.1, 0.2, 0.62),
    ]
    aim1 = pd.DataFrame(_fixed("wellbeing", "bond", terms1))
    aim2_fixed = pd.DataFrame(_fixed("wellbeing", "bond", terms1, singular=True))
    slope_vc = {
        "therapist|(Intercept)|": 0.04,
        "therapist|bond_within|": 0.01,
        "therapist|(Intercept)|bond_within": -0.02,
        "Residual||": 0.3,
    }
    models = {
        "aim1/wellbeing/bond": {"fit": _fit()},
        "aim2/wellbeing/bond": {
            "fit": _fit("bond_within", True, (0.4, -0.2, 0.0), slope_vc),
            "nesting_violation": False,
        },
    }
    tests = pd.DataFrame(
        [
            {
                "outcome": "wellbeing",
                "process": "bond",
                "slope_sd": 0.1,
                "slope_low": 0.154,
                "slope_high": 0.546,
                "lr": 0.0,
                "p_mixture": 1.0,
                "share_beneficial": 11 / 12,
                "singular": True,
                "n_patients": 60,
                "n_therapists": 12,
                "slope_sd_ci_low": 0.0,
                "slope_sd_ci_high": 0.31,
                "share_implied": 0.84,
                "n_eb_therapists": 10,
                "n_eb_beneficial": 9,
            }
        ]
    )
    mod = pd.DataFrame(
        [
            {
                "outcome": "wellbeing",
                "process": "bond",
                "moderator": "years",
                "estimate": -0.05,
                "se": 0.015,
                "df": 11.2,
                "t": -3.33,
                "p": interaction_p,
                "p_fdr": interaction_p,
                "ci_low": -0.083,
                "ci_high": -0.017,
                "singular": False,
            }
        ]
    )
    simple = pd.DataFrame(
        [
            {
                "outcome": "wellbeing",
                "process": "bond",
                "moderator": "years",
                "level": level,
                "moderator_value": v,
                "estimate": 0.35 - 0.05 * v,
                "se": 0.1,
                "df": 12.0,
                "t": 3.0,
                "p": 0.01,
                "ci_low": 0.1,
                "ci_high": 0.6,
            }
            for level, v in (("-1 SD", -5.0), ("mean", 0.0), ("+1 SD", 5.0))
        ]
    )
    if moderators:
        models["aim3/wellbeing/bond"] = {"fits": {"years": _fit("bond_within", False)}}
    else:
        mod, simple = mod.iloc[:0], simple.iloc[:0]
    desc = pd.DataFrame(
        [
            ("session", "wellbeing", "wellbeing", "Well-being", 300, 3.1, 1.0, 0.0, 6.0, None),
            ("session", "bond", "bond", "Bond", 290, 4.2, 0.9, 1.0, 6.0, None),
            (
                "patient",
                "baseline_wellbeing",
                "wellbeing",
                "Well-being, baseline",
                60,
                2.9,
                1.0,
                0.2,
                5.9,
                0.03,
            ),
            (
                "patient",
                "post_wellbeing",
                "wellbeing",
                "Well-being, post",
                60,
                3.6,
                1.1,
                0.5,
                6.0,
                0.12,
            ),
            ("patient", "bond_mean", "bond", "Bond, patient mean", 60, 4.2, 0.7, 2.0, 6.0, 0.2),
            ("therapist", "caseload", "", "Patients per therapist", 12, 5.0, 2.0, 1, 9, None),
            ("therapist", "years", "years", "Years in practice", 12, 11.0, 5.0, 1.0, 30.0, None),
        ],
        columns=["level", "variable", "measure", "label", "n", "mean", "sd", "min", "max", "icc"],
    )
    pairs = [
        ("baseline_wellbeing", "post_wellbeing", 0.5),
        ("baseline_wellbeing", "bond_mean", 0.1),
        ("post_wellbeing", "bond_mean", 0.3),
    ]
    corr = pd.DataFrame(
        [
            {
                "x": x,
                "y": y,
                "n": 60,
                "r": r,
                "ci_low": r - 0.2,
                "ci_high": r + 0.2,
                "p": 0.02 if r > 0.2 else 0.4,
            }
            for x, y, r in pairs
        ]
    )
    rm = pd.DataFrame(
        [
            {
                "outcome": "wellbeing",
                "process": "bond",
                "r": 0.2,
                "dof": 220,
                "p": 0.003,
                "ci_low": 0.07,
                "ci_high": 0.32,
                "n_patients": 60,
                "n_sessions": 280,
            }
        ]
    )
    flow = {
        "steps": [
            {
                "step": "input",
                "description": "rows read",
                "patients": 62,
                "therapists": 12,
                "rows": 310,
            },
            {
                "step": "5_sample",
                "description": "analysis sample",
                "patients": 60,
                "therapists": 12,
                "rows": 300,
            },
        ],
        "exclusions": {"patient excluded: too few assessments": 2},
    }
    slopes = pd.DataFrame(columns=["outcome", "process", "therapist", "slope", "se", "n_patients"])
    tables = {
        "descriptives": desc,
        "correlations": corr,
        "rm_correlations": rm,
        "aim1_fixed_effects": aim1,
        "aim2_slope_tests": tests,
        "aim2_fixed_effects": aim2_fixed,
        "aim2_therapist_slopes": slopes,
        "aim2_slope_correlations": pd.DataFrame(columns=SLOPE_CORRELATION_COLUMNS),
        "aim3_moderation": mod,
        "aim3_simple_slopes": simple,
    }
    return Results(flow=flow, tables=tables, models=models)


def _provenance() -> Provenance:
    from datetime import UTC, datetime

    return Provenance(
        inputs=(InputFile("s.csv", 10, "0" * 64),),
        commit=None,
        dirty=None,
        date=datetime(2024, 5, 1, tzinfo=UTC),
        date_source="test",
        software=(("Python", "3.11"), ("numpy", "2.0")),
        config_yaml="a: 1\n",
    )


def _png() -> bytes:
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots(figsize=(1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    plt.close(fig)
    return buf.getvalue()


def _text(blocks) -> str:
    return " ".join(b.text.plain for b in blocks if isinstance(b, rp.Paragraph))


def test_within_effect_follows_higher_is_better():
    design = Design.from_config(_config())
    text = _text(aim1_results(design, _results()))
    assert (
        "patients whose bond ratings were higher than those of their therapist's other "
        "patients ended treatment with higher well-being (better outcomes)"
    ) in text
    # A non-significant between effect is reported as such, with its statistics.
    assert "The between-therapist (therapist-level) association of bond with " in text
    assert "was not statistically significant, γ = 0.10, SE = 0.20" in text


def test_within_effect_on_a_worse_scale_reads_as_lower():
    config = _config()
    config["measures"]["outcomes"]["wellbeing"]["higher_is"] = "worse"
    config["measures"]["outcomes"]["wellbeing"]["label"] = "Distress"
    results = _results()
    aim1 = results.table("aim1_fixed_effects")
    aim1.loc[aim1["term"] == "bond_within", "estimate"] = -0.35
    text = _text(aim1_results(Design.from_config(config), results))
    assert "ended treatment with lower distress (better outcomes)" in text


def test_singular_slope_model_and_nonsignificant_test_are_named():
    design = Design.from_config(_config())
    text = _text(aim2_results(design, _results()))
    assert "There was no statistically significant evidence that therapists differed" in text
    assert "LR = 0.00, p > .999" in text
    assert (
        f"The random-slope fit was singular (the intercept–slope correlation was estimated at "
        f"{MINUS}1.00)"
    ) in text
    # Issue 12: the model-implied share, with the EB count over caseloads >= 2 beside it
    assert "implies that 84% of therapists have a positive slope" in text
    assert "9 of the 10 therapists with at least two patients had a positive empirical" in text
    assert "(95% profile-likelihood CI [0, 0.31])" in text


def test_moderation_direction_and_fdr():
    design = Design.from_config(_config())
    text = _text(aim3_results(design, _results()))
    # Negative interaction on a positive (beneficial) slope: it fades with experience.
    assert "the higher therapists' years in practice, the less beneficial" in text
    assert "p = .004" in text and "pFDR = .004" in text
    text = _text(aim3_results(design, _results(interaction_p=0.4)))
    assert "The interaction with years in practice was not statistically significant" in text


def test_models_short_of_patients_are_named():
    results = _results()
    results.models["aim3/wellbeing/bond"]["fits"]["years"]["n_obs"] = 50
    text = _text(analytic_strategy(Design.from_config(_config()), results))
    assert "because of missing values: Aim 3, well-being, bond, years in practice: 50" in text
    assert "Aim 1, well-being" not in text


def test_manuscript_adapts_to_other_measures_and_renders_everywhere(tmp_path):
    config = _config()
    images = dict.fromkeys(FIGURES, _png())
    manuscript = build_manuscript(config, _results(), _provenance(), images)
    html = rp.render_html(manuscript, ROOT / "workflow" / "templates")
    md = rp.render_markdown(manuscript)
    docx = rp.render_docx(manuscript)
    tex = [rp.render_latex_table(t) for t in manuscript.tables()]
    assert [t.number for t in manuscript.tables()] == ["1", "2", "3", "4"]
    for text in (html, md, *tex):
        for default in ("symptom", "alliance", "expectation", "Working", "functioning"):
            assert default not in text
    assert "Well-being" in html and "Bond" in md
    assert zipfile.ZipFile(io.BytesIO(docx)).testzip() is None
    assert all("\\toprule" in t and "\\bottomrule" in t for t in tex)
    # No simulation check for own data.
    assert "Simulation" not in html and "true param" not in md.lower()


def test_without_moderators_aim3_says_so():
    config = _config(moderators=False)
    images = dict.fromkeys(FIGURES[:2], _png())
    manuscript = build_manuscript(config, _results(moderators=False), _provenance(), images)
    text = " ".join(b.text.plain for b in manuscript.blocks() if isinstance(b, rp.Paragraph))
    assert "Aim 3 was not tested" in text
    assert [t.number for t in manuscript.tables()] == ["1", "2", "3"]
    assert not any(isinstance(b, rp.Figure) and b.number == "3" for b in manuscript.blocks())
    table4 = all_tables(config, _results(moderators=False))["table4_moderation"]
    assert "No therapist characteristics" in rp.render_latex_table(table4)


def test_docx_is_byte_stable():
    config = _config()
    images = dict.fromkeys(FIGURES, _png())
    manuscript = build_manuscript(config, _results(), _provenance(), images)
    assert rp.render_docx(manuscript) == rp.render_docx(manuscript)


# ------------------------------------------------------- checking printed numbers


@functools.cache
def _load(workdir: Path, source: str):
    if source == "flow":
        return pd.DataFrame(json.loads((workdir / "results/data/flow.json").read_text())["steps"])
    if source.startswith("models/"):
        return json.loads((workdir / "results" / f"{source}.json").read_text())
    return pd.read_csv(
        workdir / "results" / "tables" / f"{source}.csv", keep_default_na=False, na_values=[""]
    )


def source_value(workdir: Path, source: str, key: str, column: str) -> float:
    """The value a ``span.stat`` names, looked up independently of the report code."""
    data = _load(workdir, source)
    if isinstance(data, dict):
        fit = data["fit"]
        vc = fit["variance_components"]
        if column == "<correlation>":
            slope = fit["random_slope"]
            cov = vc[f"therapist|(Intercept)|{slope}"]
            return cov / math.sqrt(vc["therapist|(Intercept)|"] * vc[f"therapist|{slope}|"])
        node = data
        for part in column.split("."):
            node = node[part]
        return float(node)
    sel = data
    for pair in filter(None, key.split(";")):
        k, v = pair.split("=", 1)
        # An empty key value selects the rows where that column is empty.
        sel = sel[(sel[k].astype(str) == v) | (sel[k].isna() & (v == ""))]
    if column == "<count>":
        return float(len(sel))
    if column == "<with_ci>":
        return float(sel["ci_low"].notna().sum())
    if column == "<covered>":
        return float((sel["covered"].astype(str) == "True").sum())
    assert len(sel) == 1, (source, key, len(sel))
    return float(sel.iloc[0][column])


def assert_printed(printed: str, value: float, where: str) -> None:
    """``printed`` is ``value`` rounded as printed (APA forms included)."""
    text = printed.replace(MINUS, "-").replace(",", "").strip()
    for prefix in ("= ", "≥ "):
        text = text.removeprefix(prefix)
    if text.startswith("< "):
        assert value < float(text[2:]), where
        return
    if text.startswith("> "):
        assert value > float(text[2:]), where
        return
    decimals = len(text.split(".")[1]) if "." in text else 0
    number = float(text.replace("-.", "-0.") if text.startswith("-.") else text)
    assert abs(value - number) <= 0.5 * 10**-decimals + 1e-9, f"{where}: {printed} vs {value}"


class ManuscriptHTML(HTMLParser):
    """Collects ``span.stat`` elements, Results paragraphs and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.stats: list[tuple[str | None, dict, str]] = []
        self.paragraphs: list[str] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self._para: list[str] | None = None
        self._stat: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "data", "srcset")]
        if tag == "section":
            self.section = a.get("id")
        if tag == "p" and self.section == "results" and "note" not in (a.get("class") or ""):
            self._para = []
        if tag == "span" and a.get("class") == "stat":
            self._stat = [a, ""]

    def handle_endtag(self, tag):
        if tag == "p" and self._para is not None:
            self.paragraphs.append("".join(self._para))
            self._para = None
        if tag == "span" and self._stat is not None:
            self.stats.append((self.section, *self._stat))
            self._stat = None
            if self._para is not None:
                self._para.append("§")

    def handle_data(self, data):
        if self._stat is not None:
            self._stat[1] += data
        elif self._para is not None:
            self._para.append(data)


# Numbers in the Results prose that are not statistics: table and figure numbers,
# aims, the fixed conventions 95% CI, ±1 SD and a correlation bound of ±1, the names
# ICC(1) and ICC(2), and the years of citations.
NOT_STATISTICS = re.compile(
    r"(Table|Figure|Aim) \d+|95%|\b1 SD\b|±1\b|ICC\([12]\)|, (19|20)\d\d\)|\((19|20)\d\d\)"
)


@pytest.fixture(scope="module")
def manuscript_html(workflow_run: Path) -> ManuscriptHTML:
    parser = ManuscriptHTML()
    parser.feed((workflow_run / "results/report/manuscript.html").read_text(encoding="utf-8"))
    return parser


@pytest.mark.e2e
def test_results_text_quotes_the_results_tables(workflow_run: Path, manuscript_html):
    stats = [s for s in manuscript_html.stats if s[0] == "results"]
    assert len(stats) > 200
    for _, attrs, printed in stats:
        value = source_value(
            workflow_run, attrs["data-source"], attrs["data-key"], attrs["data-column"]
        )
        value *= float(attrs.get("data-scale", 1.0))
        assert_printed(printed, value, f"{attrs}")
    # Every other number in the Results prose is a table/figure number, a convention or
    # part of a measure's label (such as "OQ-45").
    labels = [m.label for m in Design.from_config(_workflow_config(workflow_run)).all]
    for paragraph in manuscript_html.paragraphs:
        rest = NOT_STATISTICS.sub("", paragraph)
        for label in labels:
            rest = rest.replace(label, "").replace(rp.lower_first(label), "")
        assert not re.search(r"\d", rest), f"untraced number in: {paragraph[:300]}"


@pytest.mark.e2e
def test_every_quoted_number_in_the_document_is_traceable(workflow_run: Path, manuscript_html):
    # Method, tables and the simulation check carry source references too.
    for section, attrs, printed in manuscript_html.stats:
        value = source_value(
            workflow_run, attrs["data-source"], attrs["data-key"], attrs["data-column"]
        )
        assert_printed(printed, value * float(attrs.get("data-scale", 1.0)), f"{section} {attrs}")


@pytest.mark.e2e
def test_html_is_self_contained(workflow_run: Path, manuscript_html):
    html = (workflow_run / "results/report/manuscript.html").read_text(encoding="utf-8")
    assert not {"script", "link", "iframe", "object", "embed", "a"} & manuscript_html.tags
    assert manuscript_html.urls and all(
        u.startswith("data:image/png;base64,") for u in manuscript_html.urls
    )
    # The reference list prints DOIs as APA 7 asks (https://doi.org/...), as text, never
    # as a link or a resource; nothing else may name a web address.
    refs = re.findall(r'<p class="reference">(.*?)</p>', html)
    assert refs and all("<a" not in r for r in refs)
    rest = re.sub(r'<p class="reference">.*?</p>', "", html)
    for needle in ("@import", "url(", "http://", "https://", "@font-face"):
        assert needle not in rest, needle
    assert html.count("<figure") == 3
    for n in "1234":
        assert f'<span class="number">Table {n}</span>' in html
    simulated = _workflow_config(workflow_run)["data"]["source"] == "simulate"
    assert ("Simulation Check" in html) == simulated


@pytest.mark.e2e
def test_report_never_prints_patient_or_therapist_ids(workflow_run: Path):
    patients = pd.read_csv(workflow_run / "results/data/patients.csv", dtype=str)["patient"]
    therapists = pd.read_csv(workflow_run / "results/private/therapist_codes.csv", dtype=str)
    report = workflow_run / "results/report"
    texts = [
        p.read_text(encoding="utf-8")
        for p in report.rglob("*")
        if p.suffix in (".html", ".md", ".tex")
    ]
    with zipfile.ZipFile(report / "manuscript.docx") as z:
        texts.append(z.read("word/document.xml").decode("utf-8"))
    for text in texts:
        assert not [p for p in patients if p in text]
        assert not [t for t in therapists["therapist"] if re.search(rf"\b{re.escape(t)}\b", text)]


def _docx_tables(path: Path) -> dict[str, list[list[str]]]:
    """Tables of a Word file keyed by the ``Table N`` paragraph above them."""
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    doc = docx.Document(str(path))
    tables, label = {}, None
    for child in doc.element.body.iterchildren():
        if child.tag == qn("w:p"):
            text = Paragraph(child, doc).text.strip()
            if re.fullmatch(r"Table \d+", text):
                label = text
        elif child.tag == qn("w:tbl") and label:
            table = Table(child, doc)
            tables[label] = [[c.text.strip() for c in row.cells] for row in table.rows]
            label = None
    return tables


def _panel(row: list[str]) -> bool:
    return len(set(row)) == 1


def _check_stats(cells: list[str], row: dict, columns: list[str], where: str) -> None:
    for text, column in zip(cells, columns, strict=True):
        if column is None:
            continue
        if column == "ci":
            low, high = text.rstrip("b").strip("[]").split(", ")
            assert_printed(low, row["ci_low"], f"{where} ci_low")
            assert_printed(high, row["ci_high"], f"{where} ci_high")
        else:
            assert_printed(text, float(row[column]), f"{where} {column}")


@pytest.mark.e2e
def test_docx_tables_equal_the_results_tables(workflow_run: Path):
    config = json.loads(json.dumps(_workflow_config(workflow_run)))
    design = Design.from_config(config)
    tables = _docx_tables(workflow_run / "results/report/manuscript.docx")
    assert {"Table 1", "Table 2", "Table 3", "Table 4"} <= set(tables)
    res = workflow_run / "results/tables"

    desc = pd.read_csv(res / "descriptives.csv")
    levels = {
        "Session level": "session",
        "Patient level": "patient",
        "Therapist level": "therapist",
    }
    checked, level = 0, None
    for row in tables["Table 1"][1:]:
        if _panel(row):
            level = levels[row[0]]
            continue
        sel = desc[(desc["level"] == level) & (desc["label"] == row[0])].iloc[0]
        if "%" in row[2]:  # a binary characteristic: n (%) coded 1, no SD or range
            ones, share = re.fullmatch(r"(\d+) \((\d+)%\)", row[2]).groups()
            assert int(ones) == round(sel["mean"] * sel["n"]), row
            assert_printed(share, 100 * sel["mean"], f"Table 1 {row[0]} %")
            assert row[3:6] == ["\u2013"] * 3, row
            checked += 1
            continue
        _check_stats(row[1:6], sel, ["n", "mean", "sd", "min", "max"], f"Table 1 {row[0]}")
        if not pd.isna(sel["icc"]):
            assert_printed(row[6], sel["icc"], f"Table 1 {row[0]} icc")
        checked += 1
    assert checked == len(desc)

    corr = pd.read_csv(res / "correlations.csv")
    labels = dict(zip(desc["label"], desc["variable"], strict=False))
    names = [labels[r[0].split(". ", 1)[1]] for r in tables["Table 2"][1:]]
    for i, row in enumerate(tables["Table 2"][1:]):
        for j in range(i):
            a, b = names[i], names[j]
            sel = corr[((corr.x == a) & (corr.y == b)) | ((corr.x == b) & (corr.y == a))].iloc[0]
            assert_printed(row[1 + j].rstrip("*"), sel["r"], f"Table 2 {a} {b}")

    fixed = {
        "aim1": pd.read_csv(res / "aim1_fixed_effects.csv"),
        "aim2": pd.read_csv(res / "aim2_fixed_effects.csv"),
    }
    tests = pd.read_csv(res / "aim2_slope_tests.csv")
    outcome = process = aim = None
    n_fixed = 0
    for row in tables["Table 3"][1:]:
        if _panel(row):
            head = row[0].rstrip("a")
            outs = [o for o in design.outcomes if o.label == head]
            if outs:
                outcome = outs[0]
                continue
            if head.startswith("All processes"):
                process, aim = "joint", "aim1"
            elif ": random" in head:
                label = head.split(": random")[0]
                process = next(p.key for p in design.processes if p.label == label)
                aim = "aim1" if "(Aim 1)" in head else "aim2"
            continue
        part = fixed[aim]
        part = part[(part.outcome == outcome.key) & (part.process == process)]
        terms = {design.term_label(t): t for t in part.term}
        if row[0] in terms:
            sel = part[part.term == terms[row[0]]].iloc[0]
            _check_stats(
                row[1:], sel, ["estimate", "se", "df", "t", "p", "ci"], f"Table 3 {row[0]}"
            )
            n_fixed += 1
        elif row[0].startswith("Slope SD"):
            sel = tests[(tests.outcome == outcome.key) & (tests.process == process)].iloc[0]
            assert_printed(row[1], sel["slope_sd"], "slope SD")
            _check_stats(
                [row[6].rstrip("b")],
                {"ci_low": sel["slope_sd_ci_low"], "ci_high": sel["slope_sd_ci_high"]},
                ["ci"],
                "slope SD profile CI",
            )
        elif row[0].startswith("95% range of therapists' slopes"):
            sel = tests[(tests.outcome == outcome.key) & (tests.process == process)].iloc[0]
            _check_stats(
                [row[6]],
                {"ci_low": sel["slope_low"], "ci_high": sel["slope_high"]},
                ["ci"],
                "slope range",
            )
        elif row[0] == "REML log-likelihood":
            summary = json.loads(
                (workflow_run / f"results/models/{aim}/{outcome.key}/{process}.json").read_text()
            )
            assert_printed(row[1], summary["fit"]["loglik"], f"Table 3 logLik {aim} {process}")
        elif row[0].startswith("LR test"):
            sel = tests[(tests.outcome == outcome.key) & (tests.process == process)].iloc[0]
            assert_printed(row[1], sel["lr"], "LR")
            assert_printed(row[5], sel["p_mixture"], "mixture p")
        elif "variance" in row[0]:
            summary = json.loads(
                (workflow_run / f"results/models/{aim}/{outcome.key}/{process}.json").read_text()
            )
            vc = summary["fit"]["variance_components"]
            slope = summary["fit"]["random_slope"]
            name = {
                "Intercept variance (τ00)": "therapist|(Intercept)|",
                "Slope variance (τ11)": f"therapist|{slope}|",
                "Residual variance (σ²)": "Residual||",
            }[row[0]]
            assert_printed(row[1], vc[name], f"Table 3 {row[0]}")
    assert n_fixed == len(fixed["aim1"]) + len(fixed["aim2"])

    mod = pd.read_csv(res / "aim3_moderation.csv")
    by_label = {m.label: m.key for m in design.moderators}
    outcome = process = None
    n_rows = 0
    for row in tables["Table 4"][1:]:
        if _panel(row):
            outs = [o for o in design.outcomes if o.label == row[0]]
            if outs:
                outcome = outs[0]
            else:
                label = row[0].split(", within")[0]
                process = next(p.key for p in design.processes if p.label == label)
            continue
        sel = mod[(mod.outcome == outcome.key) & (mod.process == process)]
        singular_label = {f"{lab}a": key for lab, key in by_label.items()}
        key = by_label.get(row[0]) or singular_label[row[0]]
        sel = sel[sel.moderator == key].iloc[0]
        assert (row[0] in singular_label) == bool(sel["singular"]), f"singular flag of {row[0]}"
        _check_stats(
            row[1:], sel, ["estimate", "se", "df", "t", "p", "p_fdr", "ci"], f"Table 4 {row[0]}"
        )
        n_rows += 1
    assert n_rows == len(mod)


def _workflow_config(workdir: Path) -> dict:
    import yaml

    return validate_config(yaml.safe_load((workdir / "config.yaml").read_text()), SCHEMA)


@pytest.mark.e2e
def test_docx_has_figures_and_fixed_metadata(workflow_run: Path):
    import docx

    doc = docx.Document(str(workflow_run / "results/report/manuscript.docx"))
    assert len(doc.inline_shapes) == 3
    assert doc.core_properties.created == doc.core_properties.modified
    assert doc.core_properties.title.startswith("Therapist-level moderation")


@pytest.mark.e2e
def test_latex_tables_are_booktabs(workflow_run: Path):
    for name in (
        "table1_descriptives",
        "table2_correlations",
        "table3_aims12",
        "table4_moderation",
    ):
        tex = (workflow_run / f"results/report/tables/{name}.tex").read_text()
        assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
        assert MINUS not in tex and "γ" not in tex  # pdfLaTeX-safe


@pytest.mark.e2e
def test_template_change_reruns_only_the_report(workflow_run: Path, tmp_path: Path):
    # Edit a template of a copy of the workflow (never the shared checkout) and dry-run
    # it on a copy of the finished run. Snakemake compares checksums, so only a change
    # of content counts, as it should.
    import shutil
    import subprocess
    import sys

    source = tmp_path / "workflow_copy"
    source.mkdir()
    for name in ("Snakefile", "workflow", "scripts"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, source / name)
    run = tmp_path / "run"
    shutil.copytree(workflow_run, run, symlinks=True)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(source / "Snakefile"), "-d", str(run)]
    cmd += ["--configfile", str(run / "config.yaml"), "--cores", "2"]
    # The copy's template paths differ from the original's: render once to record them.
    first = subprocess.run(
        [*cmd, "--forcerun", "manuscript", "results/report/manuscript.html"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    template = source / "workflow/templates/_results.html.j2"
    template.write_text(template.read_text() + "{# edited #}\n")
    proc = subprocess.run([*cmd, "-n"], capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
    assert jobs.get("manuscript") == "1", out[-3000:]
    # Only the manuscript and what packages it (the supplement, the default target).
    assert set(jobs) <= {"manuscript", "supplement", "all", "total"}, jobs
    assert f"Updated input files: {template}" in out, out[-3000:]


@pytest.mark.e2e
def test_rerendering_gives_identical_bytes(workflow_run: Path, tmp_path: Path):
    # Render twice from the run's results; date and provenance come from the inputs and
    # the commit, never the clock, so the bytes must not change.
    results = workflow_run / "results"
    tables = {
        o.name: str(results / o.path().removeprefix("results/"))
        for o in outputs(folder="tables")
        if (results / o.path().removeprefix("results/")).exists()
    }
    rendered = []
    for attempt in ("a", "b"):
        out = {
            key: Path(path).name
            for o in outputs(rule="manuscript")
            for key, path in o.files().items()
        }
        out = {k: str(tmp_path / attempt / v) for k, v in out.items()}
        cwd = os.getcwd()
        os.chdir(workflow_run)  # input paths are relative to the run directory
        try:
            write_manuscript(
                config=_workflow_config(workflow_run),
                tables=tables,
                models=sorted(str(p) for p in (results / "models").rglob("*.json")),
                flow=str(results / "data/flow.json"),
                figures_png=sorted(str(p) for p in (results / "figures").glob("*.png")),
                data_files=[
                    f"results/data/simulated/{t}.csv"
                    for t in ("sessions", "therapists", "patients")
                ],
                template_dir=str(ROOT / "workflow/templates"),
                workflow_dir=str(ROOT),
                out=out,
            )
        finally:
            os.chdir(cwd)
        rendered.append({k: Path(v).read_bytes() for k, v in out.items()})
    for key in rendered[0]:
        assert rendered[0][key] == rendered[1][key], key


@pytest.mark.e2e
def test_independent_runs_give_identical_manuscripts(workflow_run: Path, workflow_rerun: Path):
    for name in (
        "manuscript.html",
        "manuscript.md",
        "manuscript.docx",
        "tables/table1_descriptives.tex",
    ):
        a = (workflow_run / "results/report" / name).read_bytes()
        assert a == (workflow_rerun / "results/report" / name).read_bytes(), name


@pytest.mark.e2e
def test_snakemake_report_archive(workflow_run: Path):
    proc = run_snakemake(
        workflow_run,
        None,
        "--report",
        "report.zip",
        "--configfile",
        str(workflow_run / "config.yaml"),
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    with zipfile.ZipFile(workflow_run / "report.zip") as z:
        names = z.namelist()
    assert any(n.endswith("manuscript.html") for n in names), names[:20]
    assert any(n.endswith("figure2_aim2_caterpillar.png") for n in names)


def test_provenance_outside_git_and_with_source_date_epoch(tmp_path, monkeypatch):
    data = tmp_path / "sessions.csv"
    data.write_text("a\n1\n")
    os.utime(data, (1_600_000_000, 1_600_000_000))
    assert provenance.git_state(tmp_path)["commit"] is None
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    date, source = run_date(False, [data], None)
    assert (date.year, source) == (2020, "newest modification time of the input data files")
    assert run_date(False, [data], None, "2021-03-04")[0].month == 3
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert run_date(True, [data], 1_650_000_000)[0].year == 2023
    config = _config()
    prov = collect_provenance(config, [str(data)], tmp_path)
    assert prov.commit is None and prov.inputs[0].sha256 == sha256_file(data)
    text = " ".join(
        b.text.plain
        for b in appendix_section(Design.from_config(config), prov).blocks
        if isinstance(b, rp.Paragraph)
    )
    assert "not under git" in text and "no random numbers" in text


def test_config_dump_is_plain_yaml():
    import yaml

    config = copy.deepcopy(_config())
    dumped = plain_mapping(config)
    assert yaml.safe_load(yaml.safe_dump(dumped)) == dumped
