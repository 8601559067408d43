"""CPU time per power replicate: the project's six fits against an R loop with lme4 +
lmerTest on the same tables, in one run.

Usage::

    nice -n 10 python benchmarks/bench_replicate_vs_lme4.py [--replicates 30] [--no-r]

Makes ``--replicates`` cleaned patient tables of the 42 x 5 design with the power
machinery (:func:`process_outcome.analysis.power.replicate_table`), then times the six
model fits of a replicate (aim 1 and aim 2 of the target and the null-twin outcome, aim
3 with the planned and the null moderator, each with Satterthwaite df, empirical-Bayes
slopes and the mixture test) in this process (``time.process_time``) and in one Rscript
process (``benchmarks/replicate_timing.R``: ``lmerTest::lmer``, ``summary``,
``ranef(condVar = TRUE)``, ``logLik``; R's own CPU clock, reading the tables excluded).
Prints CPU seconds per replicate of both and the ratio. R is optional (``--no-r``, or
skipped when Rscript is missing); a script, not a test: timings depend on the machine.
The cleaning and simulation of a replicate are not timed (R would have none).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

from process_outcome.analysis import aims, power
from process_outcome.mixed.testing import mixture_lr_test

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {
    "cleaning": {"out_of_range": "missing", "min_outcome_assessments": 2},
    "analysis": {"process_sessions": None, "min_caseload_slopes": 1},
}
COLUMNS = [
    "therapist",
    "post_symptoms",
    "baseline_symptoms_c",
    "post_functioning",
    "baseline_functioning_c",
    "alliance_within",
    "alliance_between",
    "self_alliance",
    "use_alliance",
]


def six_fits(pt) -> None:
    for outcome in ("symptoms", "functioning"):
        nested = aims.fit_aim1(pt, outcome, "alliance")
        res = aims.fit_aim2(pt, outcome, "alliance", nested, "worse")
        mixture_lr_test(res.fit.loglik, nested.loglik)
    for moderator in ("self_alliance", "use_alliance"):
        aims.fit_aim3(pt, "symptoms", "alliance", {moderator: "continuous"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20221913)
    parser.add_argument("--no-r", action="store_true")
    args = parser.parse_args()
    grid = {
        "n_therapists": [42],
        "patients_per_therapist": [5],
        "max_sessions": [9],
        "slope_sd": [None],
        "moderator_effect": [None],
    }
    cell = power.design_grid(grid, power.generating_values({}))[0]
    config = power.simulation_config(CONFIG)
    tables = [power.replicate_table(cell, r, args.seed, config)[0] for r in range(args.replicates)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        six_fits(tables[0])  # imports and first-call costs, as R's library() is untimed
        start = time.process_time()
        for pt in tables:
            six_fits(pt)
        ours = (time.process_time() - start) / len(tables)
        start = time.process_time()
        for r in range(args.replicates):
            power.run_replicate(cell, r, args.seed, config, n_moderators=5)
        whole = (time.process_time() - start) / args.replicates
    print(f"python: {ours:.3f} CPU s per replicate ({len(tables)} replicates, six fits each)")
    print(
        f"python, a whole power replicate (simulate, clean, the six fits, the no-slope "
        f"aim 3 fit, reported tables): {whole:.3f} CPU s"
    )
    if args.no_r or shutil.which("Rscript") is None:
        print("R: skipped" + ("" if args.no_r else " (Rscript not found)"))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for i, pt in enumerate(tables):
            pt[COLUMNS].to_csv(Path(tmp) / f"rep_{i:04d}.csv", index=False)
        out = subprocess.run(
            ["Rscript", str(ROOT / "benchmarks" / "replicate_timing.R"), tmp],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        ).stdout
    n, seconds = out.strip().split("\t")
    theirs = float(seconds) / int(n)
    print(f"R lme4 + lmerTest: {theirs:.3f} CPU s per replicate ({n} replicates)")
    print(f"ratio python / R: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
