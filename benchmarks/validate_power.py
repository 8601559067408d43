"""Validation of the reported inference by simulation where labs are (issues 13, 19).

Simulates ``--replicates`` studies per scenario with the project's simulator (unequal
caseloads, dropout, missed surveys, mess), cleans and fits them exactly as the workflow
does (:func:`process_outcome.analysis.power.run_replicate`: the aim 1 within effect from
the random-slope model, therapist-bounded df, BH across the study's moderators), and
prints one table: the 95% CI coverage of every reported fixed effect and the
rejection rate of every test under a true zero, each with its Monte Carlo SE, overall
and on singular fits only. Targets: coverage 0.93-0.97; type-I at most
alpha + 2 MC SE.

Scenarios (``--scenarios``):

* ``simulator``: the simulator's values (slope SD .30 for the target outcome; its null
  twin has no slope variance at all);
* ``fitted``: the default study's own fitted values (``results/models`` of
  ``snakemake``: aim 2 and aim 3 of the planned outcome and process), as
  ``snakemake power`` plans from them.

Rows go to ``--out`` (CSV, one per replicate quantity) so the table can be re-made
with ``--summarize-only``. Replicates are spread over ``--workers`` processes; the
result does not depend on how many (seeds come from the cell and replicate index).

    nice -n 10 python benchmarks/validate_power.py --replicates 1000 --workers 2
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.analysis import power, power_summary
from process_outcome.files import read_json

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {
    "cleaning": {"out_of_range": "missing", "min_outcome_assessments": 2},
    "analysis": {"process_sessions": None, "min_caseload_slopes": 1},
}
# Reported (what the tables print) and, for comparison, not reported.
REPORTED = ("aim1_target", "aim1_null", "aim2_target", "aim2_null")
REPORTED += ("aim3_target", "aim3_null", "aim3_noslope")
NULLS = {
    "aim 2 slope variance, mixture LR (no slope variance)": ("aim2_null", "slope_sd", "p"),
    "aim 3 interaction, slope SD > 0 (use_alliance)": (
        "aim3_null",
        "alliance_within:use_alliance",
        "p",
    ),
    "aim 3 interaction, slope SD > 0, after BH": (
        "aim3_null",
        "alliance_within:use_alliance",
        "p_fdr",
    ),
    "aim 3 interaction, no slope variance (self_alliance)": (
        "aim3_noslope",
        "alliance_within:self_alliance",
        "p",
    ),
}


def fitted_values(models: Path) -> dict[str, float]:
    """Generating values from the default study's aim 2 and aim 3 models."""
    aim2 = read_json(models / "aim2" / "symptoms" / "alliance.json")
    aim3 = read_json(models / "aim3" / "symptoms" / "alliance.json")
    values = power_summary.values_from_models(aim2, aim3, "self_alliance")
    values.pop("own_design")
    return values


def cell_of(scenario: str, args: argparse.Namespace) -> power.Cell:
    values = power.generating_values(
        {}, fitted_values(args.models) if scenario == "fitted" else None
    )
    grid = {
        "n_therapists": [args.therapists],
        "patients_per_therapist": [args.patients],
        "max_sessions": [args.sessions],
        "slope_sd": [None],
        "moderator_effect": [None],
    }
    return power.design_grid(grid, values)[0]


def _rate(x: pd.Series) -> tuple[float, float, int]:
    n = int(x.size)
    share = float(x.mean()) if n else math.nan
    return share, power_summary.mc_se_proportion(share, n) if n else math.nan, n


def summarize(rows: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """One line per reported CI (coverage) and per test under a true zero (type-I)."""
    ok = rows[rows["error"].astype(object).fillna("").eq("")]
    out = []
    ci = ok[ok["ci_low"].notna() & ok["truth"].notna()]
    ci = ci.assign(covered=(ci["ci_low"] <= ci["truth"]) & (ci["truth"] <= ci["ci_high"]))
    for (scenario, model, parameter), g in ci.groupby(["scenario", "model", "parameter"]):
        if parameter == "(Intercept)":
            continue
        share, se, n = _rate(g["covered"])
        sing, sing_se, n_sing = _rate(g.loc[g["singular"].astype(bool), "covered"])
        out.append(
            {
                "scenario": scenario,
                "kind": "coverage" if model in REPORTED else "coverage (not reported)",
                "what": f"{model} {parameter}",
                "n": n,
                "rate": share,
                "mc_se": se,
                "n_singular": n_sing,
                "rate_singular": sing,
                "mc_se_singular": sing_se,
                "ok": bool(0.93 <= share <= 0.97) if model in REPORTED else None,
            }
        )
    for scenario, s in ok.groupby("scenario"):
        for label, (model, parameter, column) in NULLS.items():
            g = s[(s["model"] == model) & (s["parameter"] == parameter)]
            reject = g[column] < alpha
            share, se, n = _rate(reject)
            sing, sing_se, n_sing = _rate(reject[g["singular"].astype(bool)])
            out.append(
                {
                    "scenario": scenario,
                    "kind": "type-I",
                    "what": label,
                    "n": n,
                    "rate": share,
                    "mc_se": se,
                    "n_singular": n_sing,
                    "rate_singular": sing,
                    "mc_se_singular": sing_se,
                    "ok": bool(share <= alpha + 2 * se),
                }
            )
    return pd.DataFrame(out)


def markdown(table: pd.DataFrame) -> str:
    """The table as Markdown (the README's Validation subsection)."""
    lines = [
        "| scenario | check | n | rate (MC SE) | singular fits: n, rate (MC SE) | target met |",
        "|---|---|---:|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        sing = (
            f"{r.n_singular}, {r.rate_singular:.3f} ({r.mc_se_singular:.3f})"
            if r.n_singular
            else "0"
        )
        ok = (
            ""
            if r.ok is None or (isinstance(r.ok, float) and np.isnan(r.ok))
            else ("yes" if r.ok else "**no**")
        )
        lines.append(
            f"| {r.scenario} | {r.kind}: {r.what} | {r.n} | {r.rate:.3f} ({r.mc_se:.3f}) "
            f"| {sing} | {ok} |"
        )
    return "\n".join(lines)


KEY_ROWS = {
    "aim1_target alliance_within": "aim 1 within, slope SD > 0 (random-slope model)",
    "aim1ri_target alliance_within": (
        "aim 1 within, slope SD > 0, random-intercept model (not reported)"
    ),
    "aim1_null alliance_within": "aim 1 within, no slope variance",
    "aim1_target alliance_between": "aim 1 between, slope SD > 0",
    "aim3_target alliance_within:self_alliance": "aim 3 interaction (moderator with effect)",
    "aim3_null alliance_within:use_alliance": "aim 3 interaction, null moderator, slope SD > 0",
    "aim3_noslope alliance_within:self_alliance": "aim 3 interaction, no slope variance",
}


def readme(table: pd.DataFrame) -> str:
    """The README's compact table: key CIs, the range of every reported CI, every test."""
    lines = [
        "| scenario | check | n | rate (MC SE) | on singular fits: n, rate | target met |",
        "|---|---|---:|---|---|---|",
    ]

    def line(scenario: str, label: str, r: Any) -> str:
        sing = f"{r.n_singular}, {r.rate_singular:.3f}" if r.n_singular else "0"
        ok = "" if r.ok is None or pd.isna(r.ok) else ("yes" if r.ok else "**no**")
        return f"| {scenario} | {label} | {r.n} | {r.rate:.3f} ({r.mc_se:.3f}) | {sing} | {ok} |"

    for scenario, g in table.groupby("scenario", sort=False):
        cov = g[g["kind"].str.startswith("coverage")].set_index("what")
        for what, label in KEY_ROWS.items():
            if what in cov.index:
                lines.append(line(scenario, f"95% CI coverage: {label}", cov.loc[what]))
        rep = g[g["kind"] == "coverage"]
        inside = int(rep["rate"].between(0.93, 0.97).sum())
        lines.append(
            f"| {scenario} | 95% CI coverage, all {len(rep)} reported fixed effects | "
            f"{int(rep['n'].min())} | {rep['rate'].min():.3f}–{rep['rate'].max():.3f} | | "
            f"{inside} of {len(rep)} in 0.93–0.97 |"
        )
        for r in g[g["kind"] == "type-I"].itertuples(index=False):
            lines.append(line(scenario, f"type-I: {r.what}", r))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--therapists", type=int, default=42)
    parser.add_argument("--patients", type=int, default=5, help="per therapist (mean)")
    parser.add_argument("--sessions", type=int, default=9)
    parser.add_argument("--moderators", type=int, default=5, help="aim 3 family size (BH)")
    parser.add_argument("--scenarios", nargs="+", default=["simulator", "fitted"])
    parser.add_argument("--models", type=Path, default=ROOT / "results" / "models")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20221913)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "validation" / "rows.csv")
    parser.add_argument("--chunk", type=int, default=50, help="replicates per saved chunk")
    parser.add_argument(
        "--first", type=int, default=0, help="first replicate index (to split a run)"
    )
    parser.add_argument("--also", type=Path, nargs="*", default=[], help="more rows to summarize")
    parser.add_argument("--summarize-only", action="store_true")
    args = parser.parse_args()
    config = power.simulation_config(CONFIG)
    if not args.summarize_only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fresh = True
        for scenario in args.scenarios:
            cell = cell_of(scenario, args)
            start, failed = time.perf_counter(), 0
            run = partial(
                power.run_replicate,
                cell,
                base_seed=args.seed,
                config=config,
                n_moderators=args.moderators,
            )
            # in chunks appended to --out: a run stopped early keeps what it has done
            with ProcessPoolExecutor(args.workers) as pool:
                for first in range(args.first, args.replicates, args.chunk):
                    todo = range(first, min(args.replicates, first + args.chunk))
                    rows = [r for rep in pool.map(run, todo) for r in rep]
                    frame = pd.DataFrame(rows, columns=power.REPLICATE_COLUMNS)
                    frame = frame.assign(scenario=scenario)
                    failed += frame.loc[frame["error"].fillna("").ne(""), "replicate"].nunique()
                    frame.to_csv(args.out, index=False, mode="w" if fresh else "a", header=fresh)
                    fresh = False
            print(
                f"{scenario}: {cell}\n  {args.replicates - args.first} replicates "
                f"({failed} not analysable), "
                f"{time.perf_counter() - start:.0f} s wall with {args.workers} workers",
                flush=True,
            )
    rows = pd.concat(
        [pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in [args.out, *args.also]],
        ignore_index=True,
    )
    # split runs may overlap: a replicate is the same study whoever ran it (its seed)
    rows = rows.drop_duplicates(["scenario", "replicate", "model", "parameter"])
    table = summarize(rows, args.alpha)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_colwidth", 70)
    print(table.round(4).to_string(index=False))
    print()
    print(markdown(table))
    print()
    print(readme(table))
    rep = table[table["ok"].notna()]
    print(f"\ntargets met: {int(rep['ok'].astype(bool).sum())} of {len(rep)}")


if __name__ == "__main__":
    main()
