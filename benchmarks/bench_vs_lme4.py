"""The engine against lme4 + lmerTest on the same models, timed in one run.

Usage::

    python benchmarks/bench_vs_lme4.py [--repeat 1]

Runs ``benchmarks/lme4_timing.R`` (lmer + summary with Satterthwaite df + ranef with
condVar, per model of ``tests/data/public/lme4_reference.json``) and then fits the same
models with :func:`process_outcome.fit_mixed` (which computes the same outputs); then the
same for the three-level and two-slope models of ``nested_reference.json``
(``benchmarks/lme4_nested_timing.R`` against :func:`process_outcome.mixed.lmer`). Prints
seconds per model, the totals, the ratios and the worst per-model ratio. R is a
benchmark tool here, never a dependency of the workflow. A script, not a test: timings
depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import pandas as pd

from process_outcome.data.public import load_reference, model_data, models
from process_outcome.mixed.fit import fit_mixed
from process_outcome.mixed.formula import lmer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "public"


def r_times(script: str = "lme4_timing.R") -> dict[str, float]:
    """Seconds per model for lme4 + lmerTest, from one Rscript process."""
    out = subprocess.run(
        ["Rscript", str(ROOT / "benchmarks" / script), str(DATA)],
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
    worst_two = max(ours[n] / r[n] for n in ours if r[n] > 0)
    r3, ours3 = nested(args.repeat)
    total_r3, total_ours3 = sum(r3.values()), sum(ours3.values())
    print(
        f"nested total: lme4+lmerTest {total_r3:.2f} s, ours {total_ours3:.2f} s, "
        f"ratio ours/R {total_ours3 / total_r3:.2f}"
    )
    worst_three = max(ours3[n] / r3[n] for n in ours3 if r3[n] > 0)
    print(
        f"all models: total lme4+lmerTest {total_r + total_r3:.2f} s, ours "
        f"{total_ours + total_ours3:.2f} s; worst per-model ratio: two-level "
        f"{worst_two:.2f}, nested {worst_three:.2f}"
    )


def nested(repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """The models of ``nested_reference.json``: R's and our seconds per model."""
    reference = json.loads((DATA / "nested_reference.json").read_text(encoding="utf-8"))
    r = r_times("lme4_nested_timing.R")
    ids = [
        "batch",
        "cask",
        "schoolid",
        "childid",
        "COMPANY",
        "SUBNUM",
        "Subject",
        "site",
        "therapist",
        "patient",
    ]
    ours = {}
    for name, spec in reference["models"].items():
        data = pd.read_csv(
            DATA / reference["datasets"][spec["data"]]["file"], dtype={c: str for c in ids}
        )
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            fit = lmer(spec["formula"], data, REML=spec["REML"])
            best = min(best, time.perf_counter() - start)
        ours[name] = best
        groups = ", ".join(str(v) for v in fit.n_groups.values())
        print(
            f"{name:20s} groups {groups:>11s}  R {r[name]:7.3f} s  ours {best:7.3f} s  "
            f"ratio {best / r[name] if r[name] > 0 else float('nan'):6.2f}  "
            f"logLik - lme4 {fit.loglik - spec['logLik']:+.2e}"
        )
    return r, ours


if __name__ == "__main__":
    main()
