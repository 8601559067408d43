"""Design planning (issue 13): summaries, seeds, the Snakemake target and a small
validation of coverage and type-I error against simulation truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from process_outcome.analysis import power, power_summary
from process_outcome.data.simulate import TRUE_FIXED, TRUE_MODERATION, TRUE_RANDOM, simulate_study
from process_outcome.errors import InputError
from process_outcome.manuscript.power import power_context, power_sentences
from process_outcome.steps.power import planned_measures
from tests.conftest import ROOT, run_snakemake

CONFIG = {
    "cleaning": {"out_of_range": "missing", "min_outcome_assessments": 2},
    "analysis": {"process_sessions": None, "min_caseload_slopes": 1},
}


def one_cell(t: int, p: int, s: int = 9, **values: float) -> power.Cell:
    grid = {
        "n_therapists": [t],
        "patients_per_therapist": [p],
        "max_sessions": [s],
        "slope_sd": [None],
        "moderator_effect": [None],
    }
    return power.design_grid(grid, power.generating_values(values))[0]


# ---------------------------------------------------------------- summaries (hand-made rows)


def test_monte_carlo_standard_errors():
    assert power_summary.mc_se_proportion(0.5, 100) == pytest.approx(0.05)
    assert power_summary.mc_se_proportion(0.0, 10) == 0.0
    assert math.isnan(power_summary.mc_se_proportion(0.5, 0))
    values = [1.0, 2.0, 3.0, 4.0]
    assert power_summary.mc_se_mean(values) == pytest.approx(np.std(values, ddof=1) / 2)
    assert math.isnan(power_summary.mc_se_mean([1.0]))


def _rows() -> pd.DataFrame:
    base = {"cell": "c", "model": "m", "parameter": "b", "truth": 0.5, "error": ""}
    rows = [
        base | {"replicate": 0, "estimate": 0.4, "ci_low": 0.3, "ci_high": 0.6},
        base | {"replicate": 1, "estimate": 0.9, "ci_low": 0.7, "ci_high": 1.1},
        base | {"replicate": 2, "estimate": 0.5, "ci_low": 0.1, "ci_high": 0.9},
        base | {"replicate": 3, "estimate": 0.6, "ci_low": 0.5, "ci_high": 0.7},  # on the edge
        base | {"replicate": 0, "parameter": "sd", "truth": 0.2, "estimate": 0.3},
        base | {"replicate": 1, "parameter": "sd", "truth": 0.2, "estimate": 0.1},
        # a replicate the workflow could not analyse: counted as failed, never as a result
        {"cell": "c", "replicate": 4, "model": "", "parameter": "", "error": "InputError: x"},
    ]
    return pd.DataFrame(rows)


def test_recovery_bias_rmse_and_coverage_by_hand():
    rec = power_summary.recovery_table(_rows()).set_index("parameter")
    b = rec.loc["b"]
    estimates = np.array([0.4, 0.9, 0.5, 0.6])
    assert b["n"] == 4
    assert b["bias"] == pytest.approx(estimates.mean() - 0.5)
    assert b["rmse"] == pytest.approx(math.sqrt(((estimates - 0.5) ** 2).mean()))
    assert b["bias_mc_se"] == pytest.approx(estimates.std(ddof=1) / 2)
    # replicates 0, 2 and 3 (truth on the CI's edge counts as covered) of 4
    assert b["coverage"] == pytest.approx(0.75)
    assert b["coverage_mc_se"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    sd = rec.loc["sd"]
    assert sd["bias"] == pytest.approx(0.0) and sd["rmse"] == pytest.approx(0.1)
    assert math.isnan(sd["coverage"])  # an SD has no CI: not "never covered"


def _test_rows(p_values: list[float], model: str, parameter: str) -> list[dict]:
    return [
        {
            "cell": "c",
            "replicate": i,
            "model": model,
            "parameter": parameter,
            "estimate": 0.1 * i,
            "p": p,
            "singular": i == 0,
            "error": "",
        }
        for i, p in enumerate(p_values)
    ]


CELLS = pd.DataFrame(
    [
        {
            "cell": "c",
            "n_therapists": 40,
            "patients_per_therapist": 5,
            "max_sessions": 9,
            "slope_sd": 0.3,
            "moderator_effect": 0.15,
        }
    ]
)


def test_power_counts_rejections_and_failed_replicates():
    rows = pd.DataFrame(
        _test_rows([0.01, 0.2, 0.04, 0.5], "aim2_target", "slope_sd")
        + _test_rows([0.001, 0.06, 0.03, 0.9], "aim3_target", "alliance_within:self_alliance")
        + [{"cell": "c", "replicate": 4, "model": "", "parameter": "", "error": "ValueError: x"}]
    )
    table = power_summary.power_table(rows, CELLS, alpha=0.05).set_index("effect")
    aim2 = table.loc["aim2_slope_variance"]
    assert (aim2["n_replicates"], aim2["n_failed"]) == (4, 1)
    assert aim2["power"] == pytest.approx(0.5)
    assert aim2["power_mc_se"] == pytest.approx(math.sqrt(0.25 / 4))
    assert aim2["singular_share"] == pytest.approx(0.25)
    assert aim2["true_value"] == 0.3 and math.isnan(aim2["mde"])
    aim3 = table.loc["aim3_moderation"]
    assert aim3["power"] == pytest.approx(0.5)
    sd = np.std([0.0, 0.1, 0.2, 0.3], ddof=1)
    assert aim3["mde"] == pytest.approx((1.959964 + 0.841621) * sd, rel=1e-5)


def test_type1_rate_and_its_limit():
    rows = pd.DataFrame(
        _test_rows([0.01] + [0.5] * 19, "aim2_null", "slope_sd")
        + _test_rows([0.5] * 20, "aim3_null", "alliance_within:use_alliance")
    )
    t1 = power_summary.type1_table(rows, CELLS, alpha=0.05).set_index("test")
    assert t1.loc["aim2_slope_variance", "rejection_rate"] == pytest.approx(0.05)
    assert t1.loc["aim3_moderation", "rejection_rate"] == 0.0
    assert t1.loc["aim2_slope_variance", "upper_limit"] == pytest.approx(
        0.05 + 1.96 * math.sqrt(0.05 * 0.95 / 20)
    )


def test_design_for_power_is_the_smallest_design_reaching_80_percent():
    table = pd.DataFrame(
        {
            "effect": "aim3_moderation",
            "true_value": 0.15,
            "n_therapists": [20, 40, 80, 40],
            "patients_per_therapist": [10, 5, 3, 10],
            "max_sessions": 9,
            "power": [0.81, 0.85, 0.79, 0.95],
            "power_mc_se": 0.01,
        }
    )
    best = power_summary.design_for_power(table).iloc[0]
    # 20 x 10 and 40 x 5 both have 200 patients: fewer therapists wins
    assert (best["n_therapists"], best["patients_per_therapist"]) == (20, 10)
    none = power_summary.design_for_power(table.assign(power=0.5)).iloc[0]
    assert pd.isna(none["n_therapists"])


# ---------------------------------------------------------------- generating values, seeds


def test_simulator_defaults_are_unchanged_by_the_new_parameters():
    a = simulate_study(seed=5, n_therapists=15, n_patients=60)
    b = simulate_study(
        seed=5,
        n_therapists=15,
        n_patients=60,
        true_fixed=TRUE_FIXED,
        true_random=TRUE_RANDOM,
        true_moderation=TRUE_MODERATION,
    )
    for name in ("sessions", "therapists", "patients", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


def test_generating_values_precedence():
    values = power.generating_values({"slope_sd": 0.1}, {"slope_sd": 0.4, "within": -0.2})
    assert values["slope_sd"] == 0.1  # explicit beats the models
    assert values["within"] == -0.2  # the models beat the simulator
    assert values["residual_sd"] == TRUE_RANDOM["symptoms"]["residual_sd"]


def test_planned_measures_names_the_wrong_key():
    config = {
        "power": {"outcome": "symptom", "process": None, "moderator": None},
        "measures": {"outcomes": {"symptoms": {}}, "processes": {"alliance": {}}},
    }
    with pytest.raises(InputError, match=r"power.outcome: 'symptom'.*\['symptoms'\]"):
        planned_measures(config)


def test_results_do_not_depend_on_how_replicates_are_batched():
    cell = one_cell(10, 4, 5)
    config = power.simulation_config(CONFIG)
    whole = power.run_batch(cell, 0, 3, 3, 11, config)
    split = pd.concat(
        [power.run_batch(cell, b, 2, 3, 11, config) for b in (0, 1)], ignore_index=True
    )
    pd.testing.assert_frame_equal(whole, split)
    assert whole["replicate"].nunique() == 3
    assert power.replicate_seed(11, cell, 0) != power.replicate_seed(12, cell, 0)


def test_a_replicate_records_every_test_with_its_truth():
    rows = pd.DataFrame(
        power.run_replicate(one_cell(15, 4, 6), 0, 3, power.simulation_config(CONFIG))
    )
    assert (rows["error"] == "").all()
    got = set(zip(rows["model"], rows["parameter"], strict=True))
    assert ("aim2_target", "slope_sd") in got and ("aim2_null", "slope_sd") in got
    assert ("aim3_target", "alliance_within:self_alliance") in got
    assert ("aim3_null", "alliance_within:use_alliance") in got
    null_sd = rows[(rows["model"] == "aim2_null") & (rows["parameter"] == "slope_sd")]
    assert null_sd["truth"].iloc[0] == 0.0
    assert rows["p"].dropna().between(0, 1).all()


# ---------------------------------------------------------------- validation against truth


def test_ci_coverage_and_type1_error_hold_within_monte_carlo_error():
    """Smaller version of benchmarks/validate_power.py (which runs 1000 replicates at a
    large design). Tolerances are 3.5 Monte Carlo SEs: a CI built with the wrong width
    or an anti-conservative test fails; chance alone almost never does."""
    n = 40
    cell = one_cell(40, 5)
    config = power.simulation_config(CONFIG)
    rows = power.run_batch(cell, 0, n, n, 20221313, config)
    assert rows["error"].eq("").all()
    rec = power_summary.recovery_table(rows)
    fixed = rec[rec["model"].eq("aim3_target") & rec["coverage"].notna()]
    assert len(fixed) == 5  # intercept, baseline, within, between, interaction
    pooled = float((fixed["coverage"] * fixed["n"]).sum() / fixed["n"].sum())
    k = int(fixed["n"].sum())
    tolerance = 3.5 * math.sqrt(0.95 * 0.05 / k)
    # all k covered would have probability 0.95**200 < 1e-4 with correct 95% CIs
    assert 0.95 - tolerance <= pooled < 1.0, fixed
    type1 = power_summary.type1_table(rows, power.cells_table([cell]), alpha=0.05)
    limit = 0.05 + 3.5 * math.sqrt(0.05 * 0.95 / n)
    assert (type1["rejection_rate"] <= limit).all(), type1


# ---------------------------------------------------------------- the Snakemake target

GRID = {
    "generating_values": "simulator",
    "n_therapists": [10, 16],
    "patients_per_therapist": [4],
    "max_sessions": [5],
    "replicates": 6,
    "batch_size": 3,
    "seed": 5,
}


@pytest.mark.e2e
def test_snakemake_power_target(tmp_path):
    import yaml

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text()) | {"power": GRID}
    proc = run_snakemake(tmp_path, config, "power")
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = tmp_path / "results" / "power"
    table = pd.read_csv(out / "power.csv")
    assert len(table) == 4 and (table["n_replicates"] + table["n_failed"]).eq(6).all()
    assert table["power"].between(0, 1).all() and table["power_mc_se"].notna().all()
    assert set(pd.read_csv(out / "type1.csv")["test"]) == set(power_summary.NULL_TESTS)
    rec = pd.read_csv(out / "recovery.csv")
    assert {"bias", "rmse", "coverage"} <= set(rec.columns)
    for f in ("power_curves.pdf", "power_curves.png", "design_for_power.csv"):
        assert (out / f).stat().st_size > 0
    assert power_context(list(out.iterdir())) is not None
    assert not (tmp_path / "results" / "report").exists()  # power does not run the workflow
    # A run killed before its last batch resumes with only that batch and the summary.
    next((out / "batches").rglob("batch1.csv")).unlink()
    (out / "power.csv").unlink()
    dry = run_snakemake(tmp_path, config, "power", "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    text = dry.stdout + dry.stderr
    assert "power_batch        1" in text and "power_design" not in text


def test_manuscript_sentences_name_the_design_and_tests():
    context = {
        "replicates": 500,
        "n_cells": 12,
        "alpha": 0.05,
        "values_source": "fitted models of symptoms on alliance",
        "grid": {"n_therapists": [20, 42], "patients_per_therapist": [5], "max_sessions": [9]},
        "own_design": {"n_therapists": 42, "patients_per_therapist": 4.8},
        "nearest": {"n_therapists": 42, "patients_per_therapist": 5, "max_sessions": 9},
        "effects": [
            {
                "effect": "aim3_moderation",
                "true_value": 0.15,
                "power": 0.31,
                "power_mc_se": 0.02,
                "singular_share": 0.1,
                "mde": 0.27,
            }
        ],
        "designs": [
            {
                "label": "Aim 3: x",
                "true_value": 0.15,
                "found": True,
                "n_therapists": 120,
                "patients_per_therapist": 10,
                "power": 0.83,
            }
        ],
        "type1": {"aim2_slope_variance": (0.02, 0.05)},
        "coverage": (0.93, 0.96),
    }
    text = " ".join(power_sentences(context))
    assert "this study's 42 therapists with 4.8 patients each" in text
    assert "minimum detectable moderator effect at 80% power was 0.270" in text
    assert "Aim 3 needs 120 therapists with 10 patients each (power 0.83)" in text
    assert "covered the true value in 93.0%–96.0%" in text
    assert "point estimates, without allowance for their uncertainty" in text


def test_manuscript_sentences_give_aim3_power_after_fdr_with_raw_beside():
    effect = {
        "effect": "aim3_moderation",
        "true_value": 0.15,
        "power": 0.31,
        "power_mc_se": 0.02,
        "power_fdr": 0.22,
        "power_fdr_mc_se": 0.02,
        "singular_share": 0.1,
        "mde": None,
    }
    context = {
        "replicates": 500,
        "n_cells": 1,
        "alpha": 0.05,
        "values_source": "x",
        "grid": {"n_therapists": [42], "patients_per_therapist": [5], "max_sessions": [9]},
        "own_design": {},
        "nearest": {"n_therapists": 42, "patients_per_therapist": 5, "max_sessions": 9},
        "effects": [effect],
        "designs": [],
        "type1": {},
        "coverage": None,
        "planning": "safeguard",
        "n_moderators": 6,
    }
    text = " ".join(power_sentences(context))
    assert "after the Benjamini–Hochberg adjustment across 6 characteristics was 0.22" in text
    assert "unadjusted 0.31" in text
    assert "safeguard planning values" in text


@pytest.mark.e2e
def test_generating_values_come_from_the_fitted_models(workflow_run):
    import json

    models = workflow_run / "results" / "models"
    aim2 = json.loads((models / "aim2/symptoms/alliance.json").read_text())
    aim3 = json.loads((models / "aim3/symptoms/alliance.json").read_text())
    values = power_summary.values_from_models(aim2, aim3, "self_alliance")
    coef = {c["term"]: c["estimate"] for c in aim2["fit"]["coefficients"]}
    assert values["within"] == pytest.approx(coef["alliance_within"], abs=1e-6)
    assert values["baseline"] == pytest.approx(coef["baseline_symptoms_c"], abs=1e-6)
    assert values["residual_sd"] == pytest.approx(aim2["fit"]["sigma"], abs=1e-6)
    variance = aim3["fits"]["self_alliance"]["variance_components"]["therapist|alliance_within|"]
    assert values["slope_sd"] == pytest.approx(math.sqrt(max(variance, 0.0)), abs=1e-6)
    row = next(m for m in aim3["moderation"] if m["moderator"] == "self_alliance")
    assert values["moderator_effect"] == pytest.approx(row["estimate"], abs=1e-6)
    assert values["own_design"]["n_therapists"] == aim2["n_therapists"]


def test_a_null_equal_to_a_listed_value_is_a_repeated_design():
    grid = {
        "n_therapists": [20],
        "patients_per_therapist": [5],
        "max_sessions": [9],
        "slope_sd": [None, 0.3],
        "moderator_effect": [None],
    }
    with pytest.raises(InputError, match=r"repeated designs.*slope SD 0.3"):
        power.design_grid(grid, power.generating_values({"slope_sd": 0.3}))


# ---------------------------------------------------------------- issue 19: FDR power, safeguard


def test_aim3_power_after_fdr_beside_raw():
    rows = pd.DataFrame(
        _test_rows([0.001, 0.03, 0.04, 0.9], "aim3_target", "alliance_within:self_alliance")
    ).assign(p_fdr=[0.004, 0.09, 0.04, 0.9])
    table = power_summary.power_table(rows, CELLS, alpha=0.05).set_index("effect")
    aim3 = table.loc["aim3_moderation"]
    assert aim3["power"] == pytest.approx(0.75)
    assert aim3["power_fdr"] == pytest.approx(0.5)
    assert aim3["power_fdr_mc_se"] == pytest.approx(math.sqrt(0.25 / 4))
    assert math.isnan(table.loc["aim2_slope_variance", "power_fdr"])
    # the design is judged on the adjusted power, as the manuscript judges aim 3
    grid = pd.DataFrame(
        {
            "effect": "aim3_moderation",
            "true_value": 0.15,
            "n_therapists": [20, 40],
            "patients_per_therapist": 5,
            "max_sessions": 9,
            "power": [0.85, 0.95],
            "power_mc_se": 0.01,
            "power_fdr": [0.7, 0.82],
            "power_fdr_mc_se": 0.01,
        }
    )
    best = power_summary.design_for_power(grid).iloc[0]
    assert best["n_therapists"] == 40 and best["power"] == pytest.approx(0.82)


def test_replicate_adjusts_aim3_across_the_family():
    cell = one_cell(15, 4, 6)
    config = power.simulation_config(CONFIG)
    two = pd.DataFrame(power.run_replicate(cell, 0, 3, config, n_moderators=2))
    six = pd.DataFrame(power.run_replicate(cell, 0, 3, config, n_moderators=6))
    for rows in (two, six):
        aim3 = rows[rows["parameter"].str.contains(":") & rows["model"].ne("aim3_noslope")]
        assert len(aim3) == 2 and (aim3["p_fdr"] >= aim3["p"] - 1e-15).all()
        assert rows.loc[~rows.index.isin(aim3.index), "p_fdr"].isna().all()
    # more moderators in the family: never a smaller adjusted p
    key = ["model", "parameter"]
    merged = two.merge(six, on=key, suffixes=("_2", "_6")).dropna(subset=["p_fdr_2"])
    assert (merged["p_fdr_6"] >= merged["p_fdr_2"] - 1e-15).all()
    assert ("aim3_noslope", "alliance_within:self_alliance") in set(
        zip(two["model"], two["parameter"], strict=True)
    )
    # therapist-level and cross-level df never exceed J - q - 1
    between = two[two["parameter"].isin(["alliance_between", "alliance_within:self_alliance"])]
    assert (between["df"] <= between["n_therapists"] - 2 + 1e-9).all()


def _pilot(ci_low: float, ci_high: float, sd_low: float | None) -> tuple[dict, dict]:
    fit = {
        "coefficients": [
            {"term": "(Intercept)", "estimate": 1.0},
            {"term": "baseline_o_c", "estimate": 0.5},
            {"term": "p_within", "estimate": -0.4},
            {"term": "p_between", "estimate": -0.2},
        ],
        "sigma": 0.5,
        "variance_components": {"therapist|(Intercept)|": 0.04, "therapist|p_within|": 0.25},
    }
    aim2 = {
        "outcome": "o",
        "process": "p",
        "fit": fit,
        "n_patients": 200,
        "n_therapists": 40,
        "slope_sd_ci_low": sd_low,
    }
    aim3 = {
        "moderation": [{"moderator": "m", "estimate": 0.2, "ci_low": ci_low, "ci_high": ci_high}],
        "fits": {"m": {"variance_components": {"therapist|p_within|": 0.16}}},
    }
    return aim2, aim3


def test_safeguard_values_are_the_bounds_nearest_no_effect():
    aim2, aim3 = _pilot(0.05, 0.35, 0.12)
    point = power_summary.values_from_models(aim2, aim3, "m")
    safe = power_summary.values_from_models(aim2, aim3, "m", "safeguard")
    assert (point["slope_sd"], point["moderator_effect"]) == (0.4, 0.2)
    assert (safe["slope_sd"], safe["moderator_effect"]) == (0.12, 0.05)
    aim2, aim3 = _pilot(-0.35, -0.05, 0.0)
    assert power_summary.values_from_models(aim2, aim3, "m", "safeguard")["moderator_effect"] == (
        -0.05
    )
    aim2, aim3 = _pilot(-0.1, 0.3, 0.5)
    safe = power_summary.values_from_models(aim2, aim3, "m", "safeguard")
    # a CI containing zero plans for zero; never above the unexplained point value
    assert (safe["moderator_effect"], safe["slope_sd"]) == (0.0, 0.4)
    aim2, aim3 = _pilot(0.05, 0.35, None)
    with pytest.raises(ValueError, match="profile CI"):
        power_summary.values_from_models(aim2, aim3, "m", "safeguard")
    with pytest.raises(ValueError, match="planning"):
        power_summary.values_from_models(aim2, aim3, "m", "optimistic")
