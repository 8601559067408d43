"""The engine against lme4 + lmerTest on the same models, timed in one run.

Usage::

    python benchmarks/bench_vs_lme4.py [--repeat 1]

Runs ``benchmarks/lme4_timing.R`` (lmer + summary with Satterthwaite df + ranef with
condVar, per model of ``tests/data/public/lme4_reference.json``) and then fits the same
models with :func:`process_outcome.fit_mixed` (which computes the same outputs), and
prints seconds per model, the totals and the ratio. R is a benchmark tool here, never a
dependency of the workflow. A script, not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

from process_outcome.data.public import load_reference, model_data, models
from process_outcome.mixed.fit import fit_mixed

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "public"


def r_times() -> dict[str, float]:
    """Seconds per model for lme4 + lmerTest, from one Rscript process."""
    out = subprocess.run(
        ["Rscript", str(ROOT / "benchmarks" / "lme4_timing.R"), str(DATA)],
        check=True,
        capture_output=True,
        text=True,
        timeout=580,
    ).stdout
    times = {}
    for line in out.splitlines():
        name, seconds = line.split("\t")
        times[name] = float(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="Python: best of N runs")
    args = parser.parse_args()
    reference = load_reference(DATA)
    r = r_times()
    ours = {}
    for name, spec in models(reference).items():
        data = model_data(DATA, reference, spec)
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            fit = fit_mixed(data, spec.response, spec.terms, spec.group, spec.slope)
            best = min(best, time.perf_counter() - start)
        ours[name] = best
        gap = fit.loglik - spec.reference["logLik"]
        print(
            f"{name:20s} groups {fit.n_groups:6d}  R {r[name]:7.3f} s  ours {best:7.3f} s  "
            f"ratio {best / r[name] if r[name] > 0 else float('nan'):6.2f}  "
            f"logLik - lme4 {gap:+.2e}"
        )
    total_r, total_ours = sum(r.values()), sum(ours.values())
    print(
        f"total: lme4+lmerTest {total_r:.2f} s, ours {total_ours:.2f} s, "
        f"ratio ours/R {total_ours / total_r:.2f}"
    )
    many = [n for n in ours if n.startswith("star")]
    print(
        "many groups (star, 10,767 children): "
        + ", ".join(f"{n} R {r[n]:.2f} s vs ours {ours[n]:.2f} s" for n in many)
    )


if __name__ == "__main__":
    main()
