"""The claims of the rendered manuscript of the shared workflow run, checked by the cells
the printed numbers come from (never by wording):

* the empirical-Bayes counts are over therapists with at least two patients;
* a slope correlation involving a singular slope model has no CI or p, in the CSV and in
  the text, and no slope correlation is printed with a p value;
* the slope SD's profile-likelihood CI is in Table 3 and in the text, a bound at the
  boundary printed with the other bound's decimals;
* no variance printed as 0.000 whose unrounded value is nonzero;
* the Aim 3 comparison with the original study comes from the config;
* every Table 3 model's variance components and log-likelihood are in
  ``variance_components.csv``, unrounded.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from process_outcome.config import validate_config
from process_outcome.manuscript.inputs import Design
from tests.conftest import ROOT

MINUS = "−"


def _config(run: Path) -> dict:
    config = yaml.safe_load((run / "config.yaml").read_text())
    return validate_config(config, ROOT / "workflow/schemas/config.schema.yaml")


def _table(run: Path, stem: str) -> pd.DataFrame:
    return pd.read_csv(
        run / "results/tables" / f"{stem}.csv", keep_default_na=False, na_values=[""]
    )


def _paragraphs(run: Path) -> list[str]:
    text = (run / "results/report/manuscript.html").read_text(encoding="utf-8")
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", p)).split())
        for p in re.findall(r"<p[^>]*>(.*?)</p>", text, re.DOTALL)
    ]


def _stats(run: Path, section: str = "results") -> list[tuple[dict, str]]:
    from tests.unit.manuscript.test_report import ManuscriptHTML

    parser = ManuscriptHTML()
    parser.feed((run / "results/report/manuscript.html").read_text(encoding="utf-8"))
    return [(a, printed) for sec, a, printed in parser.stats if sec == section]


def _table_div(md: str, name: str) -> str:
    start = md.index("{#tbl:" + name)
    return md[start : md.index("\n:::\n", start)]


def _markdown(run: Path) -> str:
    return (run / "results/report/manuscript.md").read_text(encoding="utf-8")


def _num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}".replace("-", MINUS)


@pytest.fixture(scope="module")
def design(workflow_run: Path) -> Design:
    return Design.from_config(_config(workflow_run))


@pytest.mark.e2e
def test_eb_counts_are_over_therapists_with_two_patients(workflow_run):
    tests = _table(workflow_run, "aim2_slope_tests")
    slopes = _table(workflow_run, "aim2_therapist_slopes")
    for t in tests.itertuples(index=False):
        sel = slopes[(slopes["outcome"] == t.outcome) & (slopes["process"] == t.process)]
        informative = sel[sel["n_patients"] >= 2]
        # the count is over therapists with >= 2 patients, from the EB slopes themselves
        # (the only ones the shared table holds: privacy.min_patients)
        assert t.n_eb_therapists == len(informative) == len(sel) < t.n_therapists
        assert t.n_eb_beneficial == int((informative["slope"] < 0).sum())


@pytest.mark.e2e
def test_no_ci_or_p_for_slope_correlations(workflow_run):
    corr = _table(workflow_run, "aim2_slope_correlations")
    tests = _table(workflow_run, "aim2_slope_tests")
    for r in corr.itertuples(index=False):
        sing = tests[
            (tests["outcome"] == r.outcome) & tests["process"].isin([r.process_a, r.process_b])
        ]
        assert bool(r.singular) == bool(sing["singular"].astype(str).eq("True").any())
        if r.singular:
            assert pd.isna(r.p) and pd.isna(r.ci_low) and pd.isna(r.ci_high)
    # The EB slopes are shrunken: their correlations are descriptive, never tested.
    printed = [
        a["data-column"]
        for a, _ in _stats(workflow_run)
        if "slope_correlations" in a["data-source"]
    ]
    assert "p" not in printed and "ci_low" not in printed


@pytest.mark.e2e
def test_slope_sd_profile_ci_in_table3_and_text(workflow_run):
    tests = _table(workflow_run, "aim2_slope_tests")
    table3 = _table_div(_markdown(workflow_run), "table3_aims12")
    bounds = re.findall(
        r'\[([^\]]+)\]\{\.stat data-source="aim2_slope_tests" [^}]*data-column="slope_sd_ci_low"',
        table3,
    )
    assert len(bounds) == len(tests)
    text = [(a, p) for a, p in _stats(workflow_run) if a["data-column"].startswith("slope_sd_ci")]
    assert len(text) == 2 * len(tests)
    for (_, low), (_, high) in zip(text[::2], text[1::2], strict=True):
        # the same decimals for both bounds, a bound at zero included ("0.000", not "0")
        assert len(low.split(".")[-1]) == len(high.split(".")[-1]), (low, high)
        assert "." in low and "." in high


@pytest.mark.e2e
def test_variances_have_enough_decimals(workflow_run):
    table3 = _table_div(_markdown(workflow_run), "table3_aims12")
    table3 = re.sub(r"\[([^\]]*)\]\{\.stat[^}]*\}", r"\1", table3)
    variance = _table(workflow_run, "variance_components")
    any_zero = (variance[["intercept_var", "slope_var", "residual_var"]] == 0).any().any()
    printed = [line.split("|")[2].strip() for line in table3.splitlines() if "variance (" in line]
    assert printed
    for text in printed:
        if re.fullmatch(r"0\.0+", text):
            assert any_zero, "a variance printed as zero that is not zero"
        else:  # at least two significant digits: 0.00043, not 0.000 or 0.0004
            assert len(re.sub(r"^[0.]+", "", text).replace(".", "")) >= 2, text


@pytest.mark.e2e
def test_aim3_comparison_with_the_original_study_comes_from_the_config(workflow_run):
    config = _config(workflow_run)
    text = " ".join(_paragraphs(workflow_run))
    for finding in config["manuscript"]["original_study"]["findings"]:
        assert " ".join(finding["statement"].split()) in text
    # The original study is cited by its key (citeproc prints it in the journal's style).
    assert re.search(r"Coyne (&|and) Constantino \(2022\)", text)


@pytest.mark.e2e
def test_variance_components_csv_holds_every_table3_model_unrounded(workflow_run):
    variance = _table(workflow_run, "variance_components")
    models = sorted((workflow_run / "results/models").glob("aim[12]/*/*.json"))
    assert len(variance) == len(models)
    for path in models:
        fit = json.loads(path.read_text())["fit"]
        aim, outcome, process = path.parent.parent.name, path.parent.name, path.stem
        row = variance[
            (variance["aim"] == aim)
            & (variance["outcome"] == outcome)
            & (variance["process"] == process)
        ].iloc[0]
        assert row["reml_loglik"] == pytest.approx(fit["loglik"], rel=1e-10)
        assert row["residual_var"] == pytest.approx(
            fit["variance_components"]["Residual||"], rel=1e-10
        )
        assert row["aic"] == pytest.approx(-2 * fit["loglik"] + 2 * row["n_parameters"], rel=1e-10)
    text = (workflow_run / "results/tables/variance_components.csv").read_text()
    # unrounded: the CSVs' 12 significant digits, not the 2-3 decimals printed
    assert re.search(r"\.\d{9,}", text)
