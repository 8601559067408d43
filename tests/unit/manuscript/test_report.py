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
from process_outcome.config import validate_config
from process_outcome.files import sha256_file
from process_outcome.manuscript.appendix import (
    appendix_section,
    collect_provenance,
    plain_mapping,
    run_date,
)
from process_outcome.manuscript.build import write_manuscript
from process_outcome.manuscript.context import Row
from process_outcome.manuscript.filters import fixed
from process_outcome.manuscript.inputs import Design
from process_outcome.outputs import outputs
from tests.conftest import ROOT, SCHEMA, run_snakemake
from tests.unit.manuscript import handmade

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
    md = fixed(Row(row, "aim1_fixed_effects", {"outcome": "o"}))
    plain = re.sub(r"\[([^\]]*)\]\{\.stat[^}]*\}", r"\1", md).replace("*", "").replace("\\", "")
    expected = "γ = −0.60, SE = 0.10, t(254.7) = −6.33, p < .001, 95% CI [−0.79, −0.42]"
    assert plain == expected.replace("−", MINUS)
    # Statistic symbols italic, Greek upright (APA 7), every number tied to its cell.
    assert "*SE*" in md and "*t*" in md and "*p*" in md and "*γ*" not in md
    assert md.count("{.stat ") == 7
    assert 'data-column="ci_high"' in md


def test_markdown_escapes_text():
    text = rp.rich("a <b> & c_d * [x]", rp.it("p"))
    assert r"c\_d \* \[x\]" in rp.markdown_rich(text)
    assert rp.markdown_rich(rp.it("Note. ")) == "*Note.* "


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
        self._divs: list[bool] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "data", "srcset")]
        if tag == "section":
            self.section = a.get("id")
        if tag == "div":
            classes = (a.get("class") or "").split()
            self._divs.append("apa-table" in classes or "apa-figure" in classes)
        if tag == "p" and self.section == "results" and not any(self._divs):
            self._para = []
        if tag == "span" and a.get("class") == "stat":
            # Pandoc writes an empty attribute bare (``data-key``): the empty key.
            self._stat = [{k: v or "" for k, v in a.items()}, ""]

    def handle_endtag(self, tag):
        if tag == "div" and self._divs:
            self._divs.pop()
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
    r"(Table|Figure) S?\d+|Aim \d+|95%|\b1 SD\b|±1\b|ICC\([12]\)|, (19|20)\d\d[;)]|\((19|20)\d\d\)"
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
    config = _workflow_config(workflow_run)
    # Labels are the lab's words (a measure "OQ-45", a robustness variant "Sessions 1–3").
    labels = [m.label for m in Design.from_config(config).all]
    labels += [v["label"] for v in config.get("robustness", [])]
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
    refs = re.findall(r'<div id="ref-[^"]+" class="csl-entry"[^>]*>(.*?)</div>', html, re.S)
    assert refs and all("<a" not in r for r in refs)
    rest = re.sub(r'<div id="ref-[^"]+" class="csl-entry".*?</div>', "", html, flags=re.S)
    # The XHTML namespace of the root element names no resource.
    rest = rest.replace('xmlns="http://www.w3.org/1999/xhtml"', "")
    for needle in ("@import", "url(", "http://", "https://", "@font-face"):
        assert needle not in rest, needle
    assert html.count("<img ") == 3
    for label in ("Table 1", "Table 2", "Table 3", "Table S1", "Figure 1", "Figure 3"):
        assert f"<strong>{label}</strong>" in html, label
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
    """Tables of a Word file keyed by their registered names (pandoc bookmarks each
    table's Div by its label, ``tbl:<name>``)."""
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table

    doc = docx.Document(str(path))
    tables, label = {}, None
    for child in doc.element.body.iterchildren():
        marks = [b.get(qn("w:name")) for b in child.iter(qn("w:bookmarkStart"))]
        names = [m.removeprefix("tbl:") for m in marks if m and m.startswith("tbl:")]
        if names:
            label = names[0]
        if child.tag == qn("w:tbl") and label:
            table = Table(child, doc)
            tables[label] = [[c.text.strip() for c in row.cells] for row in table.rows]
            label = None
    return tables


def _panel(row: list[str]) -> bool:
    return bool(row[0]) and not any(row[1:])


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
    names = {"table1_descriptives", "table2_correlations", "table3_aims12", "table4_moderation"}
    assert names <= set(tables)
    res = workflow_run / "results/tables"

    desc = pd.read_csv(res / "descriptives.csv")
    levels = {
        "Session level": "session",
        "Patient level": "patient",
        "Therapist level": "therapist",
    }
    checked, level = 0, None
    for row in tables["table1_descriptives"][1:]:
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
    names = [labels[r[0].split(". ", 1)[1]] for r in tables["table2_correlations"][1:]]
    for i, row in enumerate(tables["table2_correlations"][1:]):
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
    for row in tables["table3_aims12"][1:]:
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
    for row in tables["table4_moderation"][1:]:
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
        assert "\\begin{longtable}" in tex


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
    template = source / "workflow/templates/manuscript/results/aim1.md.j2"
    template.write_text(template.read_text() + "{#- edited -#}\n")
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
    config = handmade.config()
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

    config = copy.deepcopy(handmade.config())
    dumped = plain_mapping(config)
    assert yaml.safe_load(yaml.safe_dump(dumped)) == dumped
