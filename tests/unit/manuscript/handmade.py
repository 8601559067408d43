"""A small hand-made study (one outcome, one process, optionally one moderator) for the
manuscript's unit tests: its config, results tables, model summaries and provenance."""

from __future__ import annotations

import io

import pandas as pd

from process_outcome.analysis.tables import SLOPE_CORRELATION_COLUMNS
from process_outcome.config import validate_config
from process_outcome.manuscript.inputs import InputFile, Provenance, Results
from tests.conftest import SCHEMA

__all__ = ["config", "fit", "fixed", "png", "provenance", "results"]


def config(moderators: bool = True) -> dict:
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
    raw["robustness"] = []
    return validate_config(raw, SCHEMA)


def fixed(outcome, process, terms, singular=False):
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


def fit(random_slope=None, singular=False, theta=(0.5,), vc=None, n_obs=60):
    return {
        "random_slope": random_slope,
        "singular": singular,
        "converged": True,
        "theta": list(theta),
        "variance_components": vc or {"therapist|(Intercept)|": 0.04, "Residual||": 0.3},
        "n_obs": n_obs,
        "n_groups": 12,
    }


def results(moderators: bool = True, interaction_p: float = 0.004) -> Results:
    terms1 = [
        ("(Intercept)", 0.5, 0.1, 0.001),
        ("baseline_wellbeing_c", 0.6, 0.08, 1e-6),
        ("bond_within", 0.35, 0.1, 0.0008),  # higher bond, higher well-being: beneficial
        ("bond_between", 0.1, 0.2, 0.62),
    ]
    aim1 = pd.DataFrame(fixed("wellbeing", "bond", terms1))
    aim2_fixed = pd.DataFrame(fixed("wellbeing", "bond", terms1, singular=True))
    slope_vc = {
        "therapist|(Intercept)|": 0.04,
        "therapist|bond_within|": 0.01,
        "therapist|(Intercept)|bond_within": -0.02,
        "Residual||": 0.3,
    }
    models = {
        "aim1/wellbeing/bond": {"fit": fit()},
        "aim2/wellbeing/bond": {
            "fit": fit("bond_within", True, (0.4, -0.2, 0.0), slope_vc),
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
        models["aim3/wellbeing/bond"] = {"fits": {"years": fit("bond_within", False)}}
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


def provenance() -> Provenance:
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


def png() -> bytes:
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots(figsize=(1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    plt.close(fig)
    return buf.getvalue()
