"""Aim 1's reliability-corrected between effects, contextual effects and effect sizes in
the manuscript: wording, the numbers' sources, citations, and the rendered report."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from process_outcome.config import validate_config
from process_outcome.document import Paragraph
from process_outcome.manuscript.inputs import Design, Results
from process_outcome.manuscript.method_analysis import between_effects_paragraph
from process_outcome.manuscript.results import between_effect_blocks
from tests.conftest import SCHEMA

MINUS = "\u2212"


def _design() -> Design:
    raw = {
        "study": {"title": "t"},
        "data": {"source": "files", "files": {"sessions": "s.csv", "therapists": "t.csv"}},
        "measures": {
            "outcomes": {"distress": {"column": "d", "label": "Distress", "higher_is": "worse"}},
            "processes": {"bond": {"column": "b", "label": "Bond", "range": [0, 6]}},
        },
    }
    return Design.from_config(validate_config(raw, SCHEMA))


def _row(method, part, estimate, se, df, ci_low, ci_high, p=0.2):
    return {
        "outcome": "distress",
        "model": "bond",
        "process": "bond",
        "method": method,
        "part": part,
        "estimate": estimate,
        "se": se,
        "df": df,
        "t": estimate / se,
        "p": p,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "converged": True,
        "singular": False,
    }


def _results(**tables) -> Results:
    between = pd.DataFrame(
        [
            _row("observed_mean", "within", -0.5, 0.1, 160.2, -0.7, -0.3, 1e-5),
            _row("observed_mean", "between", -0.21, 0.1, 50.3, -0.4213, -0.0013, 0.046),
            _row("observed_mean", "contextual", 0.29, 0.14, 90.4, 0.01, 0.57),
            _row("latent_mean", "within", -0.49, 0.1, math.inf, -0.69, -0.29, 1e-5),
            _row("latent_mean", "between", -0.6, 0.3, math.inf, -1.19, -0.0012, 0.049),
            _row("latent_mean", "contextual", -0.11, 0.32, math.inf, -0.74, 0.52),
        ]
    )
    icc = pd.DataFrame(
        [
            {
                "variable": "bond_mean",
                "caseload_mean": 4.81,
                "icc1": 0.07,
                "icc2_mean_caseload": 0.2746,
            }
        ]
    )
    shares = {"r2_f1": 0.22, "r2_f2": 0.06, "r2_v": 0.0, "r2_m": 0.13, "r2_sigma2": 0.59}
    r2 = pd.DataFrame(
        [
            {
                "aim": "aim1",
                "outcome": "distress",
                "model": "bond",
                **shares,
                "conditional_icc": 0.181,
            },
            {"aim": "aim2", "outcome": "distress", "model": "bond", **shares, "r2_v": 0.057},
        ]
    )
    standardized = pd.DataFrame(
        [
            {"outcome": "distress", "model": "bond", "term": "bond_within", "std_estimate": -0.28,
             "std_ci_low": -0.39, "std_ci_high": -0.18},
            {"outcome": "distress", "model": "bond", "term": "bond_between", "std_estimate": -0.16,
             "std_ci_low": -0.32, "std_ci_high": -0.0031},
        ]
    )  # fmt: skip
    parts = {
        "icc_therapist_means": icc,
        "aim1_between_corrected": between,
        "effect_sizes_r2": r2,
        "standardized_effects": standardized,
    }
    names = {"icc": "icc_therapist_means", "aim1_between": "aim1_between_corrected",
             "r2": "effect_sizes_r2", "standardized": "standardized_effects"}  # fmt: skip
    parts |= {names.get(k, k): v for k, v in tables.items()}
    return Results({}, {k: v for k, v in parts.items() if v is not None}, {})


def _text(blocks) -> str:
    return " ".join(b.text.plain for b in blocks if isinstance(b, Paragraph))


def _stats(blocks) -> dict[str, list[str]]:
    """Printed numbers by the results table they are tied to."""
    out: dict[str, list[str]] = {}
    for b in blocks:
        for run in b.text:
            if run.ref is not None:
                out.setdefault(run.ref.source, []).append(run.text)
    return out


def test_reliability_latent_and_contextual_effects_are_reported():
    blocks = between_effect_blocks(_design(), _results())
    text = _text(blocks)
    assert "at the mean caseload of 4.8 patients" in text
    assert "ICC(2) (Bliese, 2000), was .27 for bond" in text
    assert "(Lüdtke et al., 2008)" in text
    assert (
        f"the between-therapist association with post-treatment distress was γ = {MINUS}0.60, "
        f"SE = 0.30, z = {MINUS}2.00, p = .049"
    ) in text
    assert f"(observed means: γ = {MINUS}0.21)" in text
    assert f"the contextual effect (between {MINUS} within) was Δγ = {MINUS}0.11" in text
    assert "with latent means and Δγ = 0.29, SE = 0.14, t(90.4) = 2.07" in text
    # every number is tied to the table it came from
    stats = _stats(blocks)
    assert {"icc_therapist_means", "aim1_between_corrected", "effect_sizes_r2"} <= set(stats)
    assert "standardized_effects" in stats


def test_no_nonzero_bound_prints_as_zero():
    text = _text(between_effect_blocks(_design(), _results()))
    assert f"95% CI [{MINUS}1.190, {MINUS}0.001]" in text  # latent between: −0.0012
    assert f"β = {MINUS}0.16, 95% CI [{MINUS}0.320, {MINUS}0.003]" in text
    assert not re.search(rf"[\[ ]{MINUS}?0\.00\]", text)


def test_effect_sizes_name_each_component_and_the_conditional_icc():
    text = _text(between_effect_blocks(_design(), _results()))
    assert "Effect sizes (variance decomposition of Rights & Sterba, 2019)." in text
    assert (
        "explained 22% of the outcome variance through their within-therapist parts and 6% "
        "through their between-therapist parts, therapists' intercept differences a further "
        "13%, and 59% remained residual; the conditional ICC was .18."
    ) in text
    assert f"the within-therapist association was β = {MINUS}0.28, 95% CI" in text
    assert "slope accounted for 6% (bond) of the outcome variance" in text


def test_nothing_is_said_without_the_tables():
    results = _results(icc=None, aim1_between=None, r2=None, standardized=None)
    assert between_effect_blocks(_design(), results) == []
    assert between_effects_paragraph(results) == []


def test_method_names_the_methods_it_cites():
    text = _text(between_effects_paragraph(_results()))
    for citation in ("(Bliese, 2000)", "(Lüdtke et al., 2008)", "Rights and Sterba (2019)"):
        assert citation in text
    assert "multilevel latent covariate model" in text
    assert "conditional ICC" in text


@pytest.mark.e2e
def test_rendered_report_quotes_the_new_tables(workflow_run):
    html = (workflow_run / "results" / "report" / "manuscript.html").read_text()
    for source in ("icc_therapist_means", "aim1_between_corrected", "effect_sizes_r2"):
        assert f'data-source="{source}"' in html
    md = (workflow_run / "results" / "report" / "manuscript.md").read_text()
    assert "multilevel latent covariate model (Lüdtke et al., 2008)" in md
    tables = workflow_run / "results" / "tables"
    corr = pd.read_csv(tables / "correlations.csv")
    # unrounded CIs (pingouin's own column is rounded to two decimals)
    assert (corr["ci_low"].round(2) != corr["ci_low"]).any()


def test_a_latent_model_that_failed_or_did_not_converge_is_said_so():
    results = _results()
    rows = results.table("aim1_between_corrected")
    failed = _results(aim1_between=rows[rows["method"] == "observed_mean"])
    text = _text(between_effect_blocks(_design(), failed))
    assert (
        "The latent covariate model of bond and post-treatment distress could not be fitted" in text
    )
    unconverged = rows.copy()
    unconverged.loc[unconverged["method"] == "latent_mean", "converged"] = False
    text = _text(between_effect_blocks(_design(), _results(aim1_between=unconverged)))
    assert "did not reach a confirmed maximum" in text
    boundary = rows.copy()
    boundary.loc[boundary["method"] == "latent_mean", "singular"] = True
    text = _text(between_effect_blocks(_design(), _results(aim1_between=boundary)))
    assert "its between-therapist effect is not identified" in text
