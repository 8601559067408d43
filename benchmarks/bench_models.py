"""Time every aim 1-3 model on the study42 reference fixture.

Usage::

    python benchmarks/bench_models.py [--patients PATH] [--repeat N] [--statsmodels]

Prints seconds per model (best of ``--repeat`` runs, each including the Satterthwaite
ingredients) and the total. ``--statsmodels`` runs statsmodels ``MixedLM`` first in
every fit (``fit_mixed(use_statsmodels=True)``) instead of only when the optimum is in
doubt. This is a script, not a test.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from process_outcome.analysis import aims
from process_outcome.mixed.fit import fit_mixed
from process_outcome.mixed.results import MixedFit

FIXTURE = Path(__file__).resolve().parents[1] / "tests/data/study42/patients.csv"
OUTCOMES = ("symptoms", "functioning")
PROCESSES = ("alliance", "expectation")
MODERATORS = {
    "self_alliance": "continuous",
    "self_expectation": "continuous",
    "cbt": "binary",
    "experience": "continuous",
}


def model_jobs(
    patients: pd.DataFrame, use_statsmodels: bool
) -> list[tuple[str, Callable[[], object]]]:
    """One (key, callable) per model, keyed as in ``lme4_reference.json``."""
    jobs: list[tuple[str, Callable[[], object]]] = []
    nested: dict[tuple[str, str], MixedFit] = {}

    def aim1(o: str, p: str) -> MixedFit:
        if use_statsmodels:
            fit = fit_mixed(
                patients, f"post_{o}", aims.aim1_terms(o, [p]), "therapist", use_statsmodels=True
            )
        else:
            fit = aims.fit_aim1(patients, o, p)
        nested[(o, p)] = fit
        return fit

    def aim2(o: str, p: str) -> object:
        if use_statsmodels:
            return fit_mixed(
                patients,
                f"post_{o}",
                aims.aim1_terms(o, [p]),
                "therapist",
                f"{p}_within",
                start=nested[(o, p)],
                use_statsmodels=True,
            )
        return aims.fit_aim2(patients, o, p, nested[(o, p)], higher_is="worse")

    def aim3(o: str, p: str, m: str) -> object:
        if use_statsmodels:
            return fit_mixed(
                patients,
                f"post_{o}",
                aims.aim3_terms(o, p, m),
                "therapist",
                f"{p}_within",
                use_statsmodels=True,
            )
        return aims.fit_aim3(patients, o, p, {m: MODERATORS[m]})

    for o in OUTCOMES:
        for p in PROCESSES:
            jobs.append((f"aim1/{o}/{p}", lambda o=o, p=p: aim1(o, p)))
        jobs.append((f"aim1/{o}/joint", lambda o=o: aims.fit_aim1_joint(patients, o, PROCESSES)))
        for p in PROCESSES:
            jobs.append((f"aim2/{o}/{p}", lambda o=o, p=p: aim2(o, p)))
            for m in MODERATORS:
                jobs.append((f"aim3/{o}/{p}/{m}", lambda o=o, p=p, m=m: aim3(o, p, m)))
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=Path, default=FIXTURE)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--statsmodels", action="store_true")
    args = parser.parse_args()
    patients = pd.read_csv(args.patients)
    best: dict[str, float] = {}
    totals = []
    for _ in range(args.repeat):
        wall = time.perf_counter()
        for key, job in model_jobs(patients, args.statsmodels):
            t0 = time.perf_counter()
            job()
            best[key] = min(best.get(key, float("inf")), time.perf_counter() - t0)
        totals.append(time.perf_counter() - wall)
    for key, seconds in best.items():
        print(f"{key:48s} {seconds:7.3f} s")
    print(f"{'models':48s} {len(best):7d}")
    print(f"{'sum of per-model best':48s} {sum(best.values()):7.3f} s")
    print(f"{'total per run (wall)':48s} " + "  ".join(f"{t:.3f}" for t in totals) + " s")


if __name__ == "__main__":
    main()
