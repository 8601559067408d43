"""A three-level fit at scale: sessions in patients in therapists.

Usage::

    python benchmarks/bench_nested_scale.py [--therapists 1000] [--patients 20]
        [--sessions 10] [--with-r]

Simulates ``therapists x patients x sessions`` rows (seeded) from
``y ~ x + session + (1 + x | therapist) + (1 + session | therapist:patient)`` and fits that
model by REML with :func:`process_outcome.mixed.lmer` (Satterthwaite df and conditional
modes included), printing the wall time, the peak memory the fit allocated (tracemalloc)
and the process's peak resident memory. With ``--with-r`` the same data are fitted by
``lmerTest::lmer`` + ``summary`` + ``ranef(condVar = TRUE)`` in one Rscript, timed there
(R is a benchmark tool here, never a dependency). A script, not a test.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from process_outcome.mixed.formula import lmer

FORMULA = "y ~ x + session + (1 + x | therapist) + (1 + session | therapist:patient)"

R_SCRIPT = """
suppressPackageStartupMessages({library(lme4); library(lmerTest)})
d <- read.csv(commandArgs(trailingOnly = TRUE)[[1]],
              colClasses = c(therapist = "character", patient = "character"))
t <- system.time({
  fit <- lmerTest::lmer(%s, d, REML = TRUE)
  s <- summary(fit)
  r <- ranef(fit, condVar = TRUE)
})[["elapsed"]]
cat(sprintf("%%.6f %%.10f", t, as.numeric(logLik(fit))), "\\n")
"""


def simulate(n_t: int, n_p: int, n_s: int, seed: int = 20261206) -> pd.DataFrame:
    """Sessions in patients in therapists with random slopes at both levels."""
    rng = np.random.default_rng(seed)
    therapist = np.repeat(np.arange(n_t), n_p * n_s)
    patient = np.repeat(np.arange(n_t * n_p), n_s)
    session = np.tile(np.arange(n_s, dtype=float), n_t * n_p)
    x = rng.normal(size=len(session)) + np.repeat(rng.normal(size=n_t * n_p), n_s) * 0.5
    t_int = rng.normal(scale=0.5, size=n_t)
    t_slope = rng.normal(scale=0.2, size=n_t)
    p_int = rng.normal(scale=1.0, size=n_t * n_p)
    p_slope = rng.normal(scale=0.1, size=n_t * n_p)
    y = (
        1.0
        + (0.3 + t_slope[therapist]) * x
        + (-0.2 + p_slope[patient]) * session
        + t_int[therapist]
        + p_int[patient]
        + rng.normal(size=len(session))
    )
    return pd.DataFrame(
        {
            "therapist": [f"T{i:04d}" for i in therapist],
            "patient": [f"P{i:05d}" for i in patient],
            "session": session,
            "x": x,
            "y": y,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--therapists", type=int, default=1000)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--with-r", action="store_true", help="also time lme4 + lmerTest")
    args = parser.parse_args()
    data = simulate(args.therapists, args.patients, args.sessions)
    print(
        f"{len(data)} rows: {args.therapists} therapists x {args.patients} patients x "
        f"{args.sessions} sessions; {FORMULA}"
    )
    lmer("y ~ x + (1 | therapist)", data.iloc[:2000])  # imports outside the timing
    tracemalloc.start()
    start = time.perf_counter()
    fit = lmer(FORMULA, data)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"ours: {seconds:.2f} s, peak allocated by the fit {peak / 2**20:.0f} MiB, "
        f"process peak RSS {rss:.0f} MiB; logLik {fit.loglik:.4f}, converged "
        f"{fit.converged}, singular {fit.singular}"
    )
    if args.with_r:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "data.csv"
            data.to_csv(csv, index=False)
            script = Path(tmp) / "fit.R"
            script.write_text(R_SCRIPT % FORMULA, encoding="utf-8")
            out = subprocess.run(
                ["Rscript", str(script), str(csv)],
                check=True,
                capture_output=True,
                text=True,
                timeout=1800,
            ).stdout.split()
            print(
                f"lme4 + lmerTest: {float(out[0]):.2f} s; logLik {float(out[1]):.4f} "
                f"(ours - lme4 {fit.loglik - float(out[1]):+.2e})"
            )


if __name__ == "__main__":
    main()
