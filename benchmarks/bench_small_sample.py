"""Small-sample inference at the published design: Satterthwaite vs Kenward-Roger, and the
slope-SD interval's boundary rule, by simulation with Monte Carlo SEs.

Usage::

    python benchmarks/bench_small_sample.py [--replicates 500] [--seed 1] [--slope-sd 0]

Each replicate draws 42 therapists with unequal caseloads (2-9 patients, about 5 on
average), a patient-level process ``x`` (therapist-centred, as ``p_within``) and a
therapist characteristic ``m``; ``y = 0.3 x + u_0 + u_1 x + e`` with intercept SD 0.5,
slope SD ``--slope-sd`` (default 0: no moderation and no slope variance, singular fits
frequent) and residual SD 1; the true cross-level interaction ``x:m`` is 0. It fits the
aim 3 model ``y ~ x * m + (1 + x | therapist)`` and the random-intercept model, and prints:

* the share of fits flagged singular;
* the type-I error of the ``x:m`` t test at 5% and its median df, by Satterthwaite and by
  Kenward-Roger, separately for singular and non-singular fits;
* the share of slope-SD 95% intervals excluding 0 by lme4's chi-square(1) rule
  (``LR > 3.84``) and by the mixture rule (``mixture p < .05``; the interval's lower
  bound is above 0 exactly then, tests/unit/mixed/test_boundary_consistency.py).

A script, not a test: it prints figures (MC SE in brackets).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

from process_outcome.mixed import fit_mixed, kr_coefficient_table, mixture_lr_test

TERM = "x:m"


def simulate(rng: np.random.Generator, slope_sd: float) -> pd.DataFrame:
    """One study: 42 therapists, 2-9 patients each."""
    sizes = rng.integers(2, 10, 42)
    g = np.repeat(np.arange(42), sizes)
    m = rng.normal(size=42)
    u0 = rng.normal(0, 0.5, 42)
    u1 = rng.normal(0, slope_sd, 42) if slope_sd > 0 else np.zeros(42)
    x = rng.normal(size=g.size)
    x = x - (np.bincount(g, x) / sizes)[g]  # therapist-centred
    y = 0.3 * x + u0[g] + u1[g] * x + rng.normal(size=g.size)
    return pd.DataFrame({"therapist": g, "x": x, "m": m[g], "y": y})


def _rate(hits: list[bool]) -> str:
    n = len(hits)
    if n == 0:
        return "   -   "
    p = float(np.mean(hits))
    return f"{p:.3f} ({math.sqrt(p * (1 - p) / n):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slope-sd", type=float, default=0.0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    start = time.process_time()
    for _ in range(args.replicates):
        d = simulate(rng, args.slope_sd)
        nested = fit_mixed(d, "y", ["x", "m"], "therapist")
        fit = fit_mixed(d, "y", ["x", "m", TERM], "therapist", "x")
        slope_only = fit_mixed(d, "y", ["x", "m"], "therapist", "x", start=nested)
        lr, p_mix = mixture_lr_test(slope_only.loglik, nested.loglik)
        sat = fit.coefficients.set_index("term").loc[TERM]
        kr = kr_coefficient_table(fit).set_index("term").loc[TERM]
        rows.append(
            {
                "singular": fit.singular,
                "sat_reject": sat["p"] < 0.05,
                "sat_df": sat["df"],
                "kr_reject": kr["p"] < 0.05,
                "kr_df": kr["df"],
                "chi2_excludes": lr > 3.841458820694124,
                "mixture_excludes": p_mix < 0.05,
            }
        )
    cpu = time.process_time() - start
    r = pd.DataFrame(rows)
    print(f"{args.replicates} replicates, slope SD {args.slope_sd}, seed {args.seed}")
    print(f"singular fits: {_rate(list(r['singular']))}")
    for label, sel in (("all", r), ("singular", r[r.singular]), ("non-singular", r[~r.singular])):
        print(
            f"{label:>12} (n={len(sel):4d}) x:m type-I  Satterthwaite {_rate(list(sel.sat_reject))}"
            f" median df {sel.sat_df.median():6.1f} | KR {_rate(list(sel.kr_reject))}"
            f" median df {sel.kr_df.median():6.1f}"
        )
    print(
        "slope-SD CI excludes 0: chi2(1) rule "
        f"{_rate(list(r.chi2_excludes))}, mixture rule {_rate(list(r.mixture_excludes))}"
    )
    print(f"CPU {cpu:.1f} s ({cpu / args.replicates:.3f} s per replicate, three fits + KR)")


if __name__ == "__main__":
    main()
