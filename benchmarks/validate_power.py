"""Validation of the inference by simulation at a large design (issue 13).

Simulates ``--replicates`` studies of ``--therapists`` x ``--patients`` with the
project's simulator, cleans and fits them exactly as the workflow does
(:func:`process_outcome.analysis.power.run_replicate`), and prints

* the 95% CI coverage of every fixed effect of the aim 1, 2 and 3 models (target: 93-97%),
* the rejection rate of the aim 2 mixture LR test under a zero slope variance and of
  the aim 3 interaction test under a zero moderator effect (target: at most alpha plus
  Monte Carlo error),

each with its Monte Carlo SE. Replicates are spread over ``--workers`` processes; the
result does not depend on how many (seeds come from the replicate index).

    python benchmarks/validate_power.py --replicates 1000 --workers 2
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import pandas as pd

from process_outcome.analysis import power, power_summary

CONFIG = {
    "cleaning": {"out_of_range": "missing", "min_outcome_assessments": 2},
    "analysis": {"process_sessions": None, "min_caseload_slopes": 1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--therapists", type=int, default=100)
    parser.add_argument("--patients", type=int, default=8, help="per therapist")
    parser.add_argument("--sessions", type=int, default=9)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20221313)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    grid = {
        "n_therapists": [args.therapists],
        "patients_per_therapist": [args.patients],
        "max_sessions": [args.sessions],
        "slope_sd": [None],
        "moderator_effect": [None],
    }
    cell = power.design_grid(grid, power.generating_values({}))[0]
    config = power.simulation_config(CONFIG)
    start = time.perf_counter()
    run = partial(power.run_replicate, cell, base_seed=args.seed, config=config)
    with ProcessPoolExecutor(args.workers) as pool:
        rows = [r for rep in pool.map(run, range(args.replicates), chunksize=10) for r in rep]
    seconds = time.perf_counter() - start
    table = pd.DataFrame(rows, columns=power.REPLICATE_COLUMNS)
    cells = power.cells_table([cell])
    recovery = power_summary.recovery_table(table)
    type1 = power_summary.type1_table(table, cells, args.alpha)
    powers = power_summary.power_table(table, cells, args.alpha)
    failed = table.loc[table["error"].fillna("").ne(""), "replicate"].nunique()
    print(
        f"design: {args.therapists} therapists x {args.patients} patients, "
        f"{args.replicates} replicates ({failed} not analysable), {seconds:.0f} s "
        f"with {args.workers} workers"
    )
    pd.set_option("display.width", 200)
    fixed = recovery[recovery["coverage"].notna()]
    print("\n95% CI coverage of fixed effects (target 0.93-0.97):")
    print(
        fixed[["model", "parameter", "truth", "bias", "rmse", "coverage", "coverage_mc_se"]]
        .round(4)
        .to_string(index=False)
    )
    inside = fixed["coverage"].between(0.93, 0.97)
    print(f"within 0.93-0.97: {int(inside.sum())} of {len(fixed)}")
    print("\nslope SD recovery:")
    sds = recovery[recovery["parameter"].eq("slope_sd")]
    print(sds[["model", "truth", "mean_estimate", "bias", "rmse"]].round(4).to_string(index=False))
    print(f"\ntype-I error under a zero effect (alpha {args.alpha}):")
    print(
        type1[["test", "n_replicates", "rejection_rate", "mc_se", "upper_limit", "singular_share"]]
        .round(4)
        .to_string(index=False)
    )
    print("\npower at this design:")
    print(
        powers[["effect", "true_value", "power", "power_mc_se", "singular_share"]]
        .round(4)
        .to_string(index=False)
    )


if __name__ == "__main__":
    main()
