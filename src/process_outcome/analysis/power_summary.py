"""Summaries of design-planning replicates (:mod:`process_outcome.analysis.power`).

Power and type-I error with their Monte Carlo standard errors, share of singular
fits, bias, RMSE and 95% CI coverage per parameter, the minimum detectable effect and
the smallest design of the grid with 80% power, the power-curve figure, and the
context of the manuscript's power section.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "EFFECTS",
    "NULL_TESTS",
    "design_for_power",
    "manuscript_context",
    "mc_se_mean",
    "mc_se_proportion",
    "power_curve_figure",
    "power_table",
    "recovery_table",
    "type1_table",
    "values_from_models",
]

# Tests whose rejection rate is power: (effect, model, parameter, true-value column).
EFFECTS = {
    "aim2_slope_variance": ("aim2_target", "slope_sd", "slope_sd"),
    "aim3_moderation": ("aim3_target", "alliance_within:self_alliance", "moderator_effect"),
}
# Tests under a true zero effect: their rejection rate is the type-I error.
NULL_TESTS = {
    "aim2_slope_variance": ("aim2_null", "slope_sd"),
    "aim3_moderation": ("aim3_null", "alliance_within:use_alliance"),
    # a cross-level test when the slope does not vary at all (singular fits frequent)
    "aim3_moderation_no_slope_variance": ("aim3_noslope", "alliance_within:self_alliance"),
}
# Type-I tests of the manuscript's power sentence (the others are in ``type1_extra``).
MANUSCRIPT_TESTS = ("aim2_slope_variance", "aim3_moderation")
DESIGN_COLUMNS = ["n_therapists", "patients_per_therapist", "max_sessions"]
CELL_COLUMNS = [*DESIGN_COLUMNS, "slope_sd", "moderator_effect"]
TARGET_POWER = 0.8


def mc_se_proportion(share: float, n: int) -> float:
    """Monte Carlo standard error of a proportion estimated from ``n`` replicates.

    Examples
    --------
    >>> round(mc_se_proportion(0.8, 400), 4)
    0.02
    """
    if n <= 0:
        return float("nan")
    return math.sqrt(share * (1.0 - share) / n)


def mc_se_mean(values: Sequence[float] | np.ndarray) -> float:
    """Monte Carlo standard error of a mean over replicates (SD / sqrt(n)).

    Examples
    --------
    >>> mc_se_mean([1.0, 3.0])
    1.0
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return float("nan")
    return float(v.std(ddof=1) / math.sqrt(len(v)))


def _rejections(
    rows: pd.DataFrame, model: str, parameter: str, alpha: float, column: str = "p"
) -> pd.DataFrame:
    """Per cell: replicates analysed, rejections (``column < alpha``), singular fits,
    failed replicates."""
    ok = rows[rows["error"].fillna("").eq("")]
    sel = ok[(ok["model"] == model) & (ok["parameter"] == parameter)]
    if column not in sel:
        sel = sel.assign(**{column: np.nan})
    sel = sel.assign(reject=sel[column] < alpha, singular=sel["singular"].astype(bool))
    failed = rows[rows["error"].fillna("").ne("")].groupby("cell")["replicate"].nunique()
    out = sel.groupby("cell").agg(
        n=("reject", "size"),
        rejections=("reject", "sum"),
        singular_share=("singular", "mean"),
        estimate_sd=("estimate", lambda x: float(np.std(x, ddof=1)) if len(x) > 1 else np.nan),
    )
    out["failed"] = failed.reindex(out.index).fillna(0).astype(int)
    return out


def power_table(rows: pd.DataFrame, cells: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Power per cell and effect, with its Monte Carlo SE and the share of singular fits.

    Parameters
    ----------
    rows : pandas.DataFrame
        Replicate rows (:data:`process_outcome.analysis.power.REPLICATE_COLUMNS`).
    cells : pandas.DataFrame
        :func:`process_outcome.analysis.power.cells_table`.
    alpha : float
        Significance level.

    Returns
    -------
    pandas.DataFrame
        ``cell``, the design and effect columns, ``effect`` (test), ``true_value``,
        ``n_replicates`` (analysed), ``n_failed``, ``power`` (raw p < alpha),
        ``power_mc_se``, ``power_fdr`` and ``power_fdr_mc_se`` (aim 3: p after the
        Benjamini-Hochberg adjustment across the study's moderators, as the manuscript
        judges aim 3; empty for aim 2, which is not adjusted), ``singular_share`` and
        ``mde``: for the aim 3 interaction the minimum
        detectable effect at 80% power, ``(z_{1-alpha/2} + z_{0.8}) x`` the SD of the
        estimates across replicates (Bloom's formula with the simulated SE); empty for
        the aim 2 variance test, which has no such formula.

    Examples
    --------
    >>> rows = pd.DataFrame({"cell": "c", "replicate": [0, 1], "model": "aim3_target",
    ...     "parameter": "alliance_within:self_alliance", "estimate": [0.1, 0.3],
    ...     "p": [0.01, 0.2], "singular": False, "error": ""})
    >>> cells = pd.DataFrame({"cell": ["c"], "n_therapists": [10],
    ...     "patients_per_therapist": [5], "max_sessions": [9], "slope_sd": [0.3],
    ...     "moderator_effect": [0.15]})
    >>> row = power_table(rows, cells, 0.05).iloc[-1]
    >>> row["effect"], float(row["power"]), round(float(row["power_mc_se"]), 4)
    ('aim3_moderation', 0.5, 0.3536)
    """
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(TARGET_POWER)
    parts = []
    for effect, (model, parameter, column) in EFFECTS.items():
        r = _rejections(rows, model, parameter, alpha).reindex(cells["cell"])
        n = r["n"].fillna(0).astype(int).to_numpy()
        power = np.where(n > 0, r["rejections"].fillna(0).to_numpy() / np.maximum(n, 1), np.nan)
        part = cells[["cell", *CELL_COLUMNS]].copy()
        part["effect"] = effect
        part["true_value"] = cells[column].to_numpy()
        part["n_replicates"] = n
        part["n_failed"] = r["failed"].fillna(0).astype(int).to_numpy()
        part["power"] = power
        part["power_mc_se"] = [mc_se_proportion(p, k) for p, k in zip(power, n, strict=True)]
        if effect == "aim3_moderation":
            f = _rejections(rows, model, parameter, alpha, "p_fdr").reindex(cells["cell"])
            fdr = np.where(n > 0, f["rejections"].fillna(0).to_numpy() / np.maximum(n, 1), np.nan)
            part["power_fdr"] = fdr
            part["power_fdr_mc_se"] = [mc_se_proportion(p, k) for p, k in zip(fdr, n, strict=True)]
        else:
            part["power_fdr"] = np.nan
            part["power_fdr_mc_se"] = np.nan
        part["singular_share"] = r["singular_share"].to_numpy()
        part["mde"] = z * r["estimate_sd"].to_numpy() if effect == "aim3_moderation" else np.nan
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def type1_table(rows: pd.DataFrame, cells: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Rejection rate of each test under a true zero effect, per cell.

    The aim 2 mixture test is applied to the null-twin outcome (no slope variance); the
    aim 3 interaction test to a moderator without effect. ``upper_limit`` is
    ``alpha + 1.96 sqrt(alpha (1 - alpha) / n)``: a rate above it is evidence (at the
    5% level, one-sided 2.5%) that the test does not hold its level.

    Returns
    -------
    pandas.DataFrame
        ``cell``, design columns, ``test``, ``n_replicates``, ``alpha``,
        ``rejection_rate``, ``mc_se``, ``upper_limit``, ``singular_share``.
    """
    parts = []
    for test, (model, parameter) in NULL_TESTS.items():
        r = _rejections(rows, model, parameter, alpha).reindex(cells["cell"])
        n = r["n"].fillna(0).astype(int).to_numpy()
        rate = np.where(n > 0, r["rejections"].fillna(0).to_numpy() / np.maximum(n, 1), np.nan)
        part = cells[["cell", *CELL_COLUMNS]].copy()
        part["test"] = test
        part["n_replicates"] = n
        part["alpha"] = alpha
        part["rejection_rate"] = rate
        part["mc_se"] = [mc_se_proportion(p, k) for p, k in zip(rate, n, strict=True)]
        part["upper_limit"] = [alpha + 1.96 * mc_se_proportion(alpha, k) for k in n]
        part["singular_share"] = r["singular_share"].to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def recovery_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE and 95% CI coverage of every parameter with a known true value.

    Returns
    -------
    pandas.DataFrame
        One row per ``cell, model, parameter``: ``truth``, ``n``, ``mean_estimate``,
        ``bias``, ``bias_mc_se``, ``rmse``, ``coverage`` (share of CIs containing the
        truth; empty for SDs, which have no CI) and ``coverage_mc_se``.

    Examples
    --------
    >>> rows = pd.DataFrame({"cell": "c", "replicate": [0, 1], "model": "m",
    ...     "parameter": "b", "truth": 1.0, "estimate": [0.9, 1.3], "ci_low": [0.5, 1.1],
    ...     "ci_high": [1.5, 1.5], "error": ""})
    >>> recovery_table(rows)[["bias", "coverage"]].round(3).iloc[0].tolist()
    [0.1, 0.5]
    """
    ok = rows[rows["error"].fillna("").eq("") & rows["truth"].notna()].copy()
    covered = (ok["ci_low"] <= ok["truth"]) & (ok["truth"] <= ok["ci_high"])
    # SDs have no CI: their coverage is missing, not "not covered".
    ok["covered"] = covered.astype(float).where(ok["ci_low"].notna() & ok["ci_high"].notna())
    ok["error_sq"] = (ok["estimate"] - ok["truth"]) ** 2
    out = []
    for (cell, model, parameter), g in ok.groupby(["cell", "model", "parameter"], sort=True):
        covered = g["covered"].dropna().astype(float)
        coverage = float(covered.mean()) if len(covered) else np.nan
        out.append(
            {
                "cell": cell,
                "model": model,
                "parameter": parameter,
                "truth": float(g["truth"].iloc[0]),
                "n": len(g),
                "mean_estimate": float(g["estimate"].mean()),
                "bias": float(g["estimate"].mean() - g["truth"].iloc[0]),
                "bias_mc_se": mc_se_mean(g["estimate"]),
                "rmse": float(math.sqrt(g["error_sq"].mean())),
                "coverage": coverage,
                "coverage_mc_se": mc_se_proportion(coverage, len(covered))
                if len(covered)
                else np.nan,
            }
        )
    return pd.DataFrame(out)


def design_for_power(power: pd.DataFrame, target: float = TARGET_POWER) -> pd.DataFrame:
    """Per effect (at each true value), the smallest design of the grid with the target
    power: fewest patients in total, then fewest therapists, then fewest sessions.

    The power judged is the one the manuscript's test has: after the FDR adjustment for
    aim 3 (``power_fdr``), raw for aim 2.

    Returns
    -------
    pandas.DataFrame
        ``effect, true_value`` and the design columns, ``power``, ``power_mc_se``;
        the design columns are empty where no cell of the grid reaches the target.
    """
    out = []
    power = power.copy()
    if "power_fdr" in power:
        adjusted = power["power_fdr"].notna()
        power.loc[adjusted, "power"] = power.loc[adjusted, "power_fdr"]
        power.loc[adjusted, "power_mc_se"] = power.loc[adjusted, "power_fdr_mc_se"]
    for (effect, value), g in power.groupby(["effect", "true_value"], sort=True):
        g = g.assign(total=g["n_therapists"] * g["patients_per_therapist"])
        ok = g[g["power"] >= target].sort_values(["total", "n_therapists", "max_sessions"])
        row: dict[str, Any] = {"effect": effect, "true_value": value}
        if len(ok):
            best = ok.iloc[0]
            row |= {c: best[c] for c in [*DESIGN_COLUMNS, "power", "power_mc_se"]}
        out.append(row)
    return pd.DataFrame(
        out, columns=["effect", "true_value", *DESIGN_COLUMNS, "power", "power_mc_se"]
    )


EFFECT_LABELS = {
    "aim2_slope_variance": "Aim 2: therapist slope variance (mixture LR test)",
    "aim3_moderation": "Aim 3: moderation of the slope (interaction t test, FDR-adjusted)",
}


def power_curve_figure(power: pd.DataFrame, target: float = TARGET_POWER) -> Any:
    """Power against the number of therapists, one line per caseload, one panel per
    effect, with +/- 1.96 Monte Carlo SE bars; the first value of the other grid
    dimensions (sessions, effect sizes) is shown.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`process_outcome.analysis.figures.save` (fixed metadata).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from process_outcome.analysis.figures import OKABE_ITO, STYLE

    first = {c: power[c].iloc[0] for c in ("max_sessions", "slope_sd", "moderator_effect")}
    shown = power[
        (power["max_sessions"] == first["max_sessions"])
        & (power["slope_sd"] == first["slope_sd"])
        & (power["moderator_effect"] == first["moderator_effect"])
    ]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(6.5, 2.8), sharey=True, layout="constrained")
        for ax, effect in zip(axes, EFFECTS, strict=True):
            g = shown[shown["effect"] == effect]
            for colour, (caseload, h) in zip(
                OKABE_ITO, g.groupby("patients_per_therapist", sort=True), strict=False
            ):
                h = h.sort_values("n_therapists")
                adjusted = "power_fdr" in h and h["power_fdr"].notna().any()
                if adjusted:
                    # raw power, faint: what the test would have without the adjustment
                    ax.plot(
                        h["n_therapists"],
                        h["power"],
                        color=colour,
                        linewidth=0.6,
                        linestyle=":",
                        alpha=0.8,
                    )
                shown_power = h["power_fdr"] if adjusted else h["power"]
                shown_se = h["power_fdr_mc_se"] if adjusted else h["power_mc_se"]
                ax.errorbar(
                    h["n_therapists"],
                    shown_power,
                    yerr=1.96 * shown_se,
                    color=colour,
                    marker="o",
                    markersize=3,
                    capsize=2,
                    label=f"{caseload} patients/therapist",
                )
            ax.axhline(target, color="0.5", linestyle="--", linewidth=0.8)
            value = g["true_value"].iloc[0] if len(g) else float("nan")
            ax.set_title(f"{EFFECT_LABELS[effect]}\ntrue value {value:g}")
            ax.set_xlabel("Therapists")
            ax.set_ylim(0, 1.02)
        axes[0].set_ylabel("Power")
        axes[0].legend(frameon=False, loc="lower right")
        fig.suptitle(
            f"Up to {first['max_sessions']} assessments, slope SD {first['slope_sd']:g}, "
            f"moderator effect {first['moderator_effect']:g}; bars: ±1.96 Monte Carlo SE; "
            "dotted: aim 3 power before the FDR adjustment",
            fontsize=8,
        )
    return fig


def values_from_models(
    aim2: Mapping[str, Any],
    aim3: Mapping[str, Any] | None,
    moderator: str | None,
    planning: str = "point",
) -> dict[str, Any]:
    """Generating values from the user's fitted models (the workflow's JSON summaries).

    ``planning="point"`` takes the point estimates. ``"safeguard"`` plans from the
    bounds of the pilot's reported 95% CIs nearest to no effect (a safeguard power
    analysis, Perugini et al., 2014, with the manuscript's 95% level rather than their
    60%, so it is the more conservative): the slope SD is the lower bound of the aim 2
    model's profile-likelihood CI, the moderator effect the bound of its interaction's
    CI nearest zero (zero when the CI contains zero). Point estimates of small pilots
    overstate effects that were selected for being large (the pilot's slope SD was 0.49
    where the generating value was 0.30); the safeguard values keep a study from being
    planned on that luck. The other values stay point estimates.

    Parameters
    ----------
    aim2 : mapping
        ``results/models/aim2/<outcome>/<process>.json``.
    aim3 : mapping, optional
        ``results/models/aim3/<outcome>/<process>.json``.
    moderator : str, optional
        The aim 3 moderator whose interaction is the planned moderator effect.
    planning : {"point", "safeguard"}
        Point estimates or safeguard values (above).

    Returns
    -------
    dict
        Generating values (keys of :data:`process_outcome.analysis.power.GENERATING_KEYS`) and,
        under ``own_design``, the user's design (therapists, patients per therapist).

    Examples
    --------
    >>> fit = {"coefficients": [{"term": "(Intercept)", "estimate": 1.0},
    ...     {"term": "baseline_o_c", "estimate": 0.5}, {"term": "p_within", "estimate": -0.4},
    ...     {"term": "p_between", "estimate": -0.2}], "sigma": 0.5, "variance_components":
    ...     {"therapist|(Intercept)|": 0.04, "therapist|p_within|": 0.09}}
    >>> v = values_from_models({"outcome": "o", "process": "p", "fit": fit, "n_patients": 200,
    ...     "n_therapists": 40}, None, None)
    >>> v["slope_sd"], v["own_design"]["patients_per_therapist"]
    (0.3, 5.0)
    """
    outcome, process = aim2["outcome"], aim2["process"]
    fit = aim2["fit"]
    coef = {c["term"]: c["estimate"] for c in fit["coefficients"]}
    vc = fit["variance_components"]
    values: dict[str, Any] = {
        "intercept": coef["(Intercept)"],
        "baseline": coef[f"baseline_{outcome}_c"],
        "within": coef[f"{process}_within"],
        "between": coef[f"{process}_between"],
        "intercept_sd": math.sqrt(max(vc["therapist|(Intercept)|"], 0.0)),
        "slope_sd": math.sqrt(max(vc[f"therapist|{process}_within|"], 0.0)),
        "residual_sd": fit["sigma"],
    }
    if planning not in ("point", "safeguard"):
        raise ValueError(f"power.planning must be 'point' or 'safeguard', not {planning!r}")
    if aim3 is not None and moderator is not None:
        row = [m for m in aim3["moderation"] if m["moderator"] == moderator]
        if row:
            values["moderator_effect"] = row[0]["estimate"]
            # The slope SD the moderator leaves unexplained is the simulator's slope SD.
            vc3 = aim3["fits"][moderator]["variance_components"]
            values["slope_sd"] = math.sqrt(max(vc3[f"therapist|{process}_within|"], 0.0))
            if planning == "safeguard":
                low, high = float(row[0]["ci_low"]), float(row[0]["ci_high"])
                values["moderator_effect"] = 0.0 if low <= 0 <= high else min((low, high), key=abs)
    if planning == "safeguard":
        low = aim2.get("slope_sd_ci_low")
        if low is None or not math.isfinite(float(low)):
            raise ValueError(
                f"power.planning: safeguard needs the profile CI of the slope SD of "
                f"{outcome}/{process} (aim 2), which was not computed; use planning: point"
            )
        # the unexplained SD is at most the marginal one: never plan above the bound
        values["slope_sd"] = min(float(low), float(values["slope_sd"]))
    values["own_design"] = {
        "n_therapists": int(aim2["n_therapists"]),
        "patients_per_therapist": round(aim2["n_patients"] / aim2["n_therapists"], 2),
    }
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}


def _nearest(cells: pd.DataFrame, own: Mapping[str, float]) -> pd.Series:
    # Nearest on a log scale: 40 vs 80 therapists is as far as 5 vs 10 patients.
    dist = (
        np.log(cells["n_therapists"] / own["n_therapists"]) ** 2
        + np.log(cells["patients_per_therapist"] / own["patients_per_therapist"]) ** 2
    )
    return cells.loc[dist.sort_values(kind="mergesort").index[0]]


def manuscript_context(
    power: pd.DataFrame,
    recovery: pd.DataFrame,
    type1: pd.DataFrame,
    design: Mapping[str, Any],
) -> dict[str, Any]:
    """Context of the manuscript's power section (``workflow/templates/_power.html.j2``).

    Parameters
    ----------
    power, recovery, type1 : pandas.DataFrame
        ``results/power/power.csv``, ``recovery.csv`` and ``type1.csv``.
    design : mapping
        ``results/power/design.json`` (generating values, their source, the user's own
        design, replicates and alpha).

    Returns
    -------
    dict
        ``own_design``, ``nearest`` (the grid cell closest to it), per effect the power
        there and the minimum detectable effect (``effects``), the smallest design with
        80% power (``designs``; aim 3 judged after the FDR adjustment), type-I error
        ranges (``type1``: the aim 2 and aim 3 tests; ``type1_extra``: the aim 3 test
        when the slope does not vary), the fixed-effect CI coverage range, and the run
        settings (``planning``: ``point`` or ``safeguard`` generating values;
        ``n_moderators``: the size of the FDR family). Per effect ``power`` is raw,
        ``power_fdr`` after the adjustment (aim 3; None for aim 2).
    """
    own = design.get("own_design") or {}
    first = power.iloc[0]
    base = power[
        (power["max_sessions"] == first["max_sessions"])
        & (power["slope_sd"] == first["slope_sd"])
        & (power["moderator_effect"] == first["moderator_effect"])
    ]
    cells = base.drop_duplicates("cell")[["cell", *DESIGN_COLUMNS]]
    nearest = _nearest(cells, own) if own else cells.iloc[0]
    effects = []
    for effect, label in EFFECT_LABELS.items():
        at = base[(base["cell"] == nearest["cell"]) & (base["effect"] == effect)].iloc[0]
        effects.append(
            {
                "effect": effect,
                "label": label,
                "true_value": float(at["true_value"]),
                "power": float(at["power"]),
                "power_mc_se": float(at["power_mc_se"]),
                "power_fdr": None if pd.isna(at.get("power_fdr")) else float(at["power_fdr"]),
                "power_fdr_mc_se": None
                if pd.isna(at.get("power_fdr_mc_se"))
                else float(at["power_fdr_mc_se"]),
                "singular_share": float(at["singular_share"]),
                "mde": None if pd.isna(at["mde"]) else float(at["mde"]),
            }
        )
    designs = []
    for row in design_for_power(base).to_dict("records"):
        found = not pd.isna(row["n_therapists"])
        designs.append(
            {
                "label": EFFECT_LABELS[row["effect"]],
                "true_value": float(row["true_value"]),
                "found": found,
                "n_therapists": int(row["n_therapists"]) if found else None,
                "patients_per_therapist": int(row["patients_per_therapist"]) if found else None,
                "max_sessions": int(row["max_sessions"]) if found else None,
                "power": float(row["power"]) if found else None,
            }
        )
    fixed = recovery[recovery["coverage"].notna()]
    ranges = {
        test: (float(g["rejection_rate"].min()), float(g["rejection_rate"].max()))
        for test, g in type1.groupby("test", sort=True)
    }
    # the tests the manuscript's sentence has labels for; the newer ones apart
    type1_ranges = {t: r for t, r in ranges.items() if t in MANUSCRIPT_TESTS}
    type1_extra = {t: r for t, r in ranges.items() if t not in MANUSCRIPT_TESTS}
    return {
        "own_design": own,
        "nearest": {c: int(nearest[c]) for c in DESIGN_COLUMNS},
        "effects": effects,
        "designs": designs,
        "type1": type1_ranges,
        "type1_extra": type1_extra,
        "coverage": (float(fixed["coverage"].min()), float(fixed["coverage"].max()))
        if len(fixed)
        else None,
        "n_cells": int(power["cell"].nunique()),
        "replicates": int(design["replicates"]),
        "alpha": float(design["alpha"]),
        "values": design["values"],
        "values_source": design["values_source"],
        "planning": design.get("planning", "point"),
        "n_moderators": int(design.get("n_moderators", 2)),
        "grid": {c: sorted(int(v) for v in power[c].unique()) for c in DESIGN_COLUMNS},
    }
