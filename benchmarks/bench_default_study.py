"""Time every aim model of the default study, and of a study 20 times its size.

Usage::

    python benchmarks/bench_default_study.py [--scale 20] [--repeat 3]

Simulates the default study (config/config.yaml), cleans it, builds the patient table
and fits every aim 1-3 model exactly as the workflow's rules do, then does the same for
a study with ``--scale`` times as many therapists and patients. Prints seconds per model
(best of ``--repeat``) and the totals. A script, not a test: timings depend on the
machine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from process_outcome.analysis import aims
from process_outcome.config import load_config
from process_outcome.data.analysis_table import analysis_table
from process_outcome.data.simulate import simulate_study

ROOT = Path(__file__).resolve().parents[1]


def patient_table(config: dict, scale: int) -> pd.DataFrame:
    sim = config["simulate"]
    study = simulate_study(
        seed=sim["seed"],
        n_therapists=sim["n_therapists"] * scale,
        n_patients=sim["n_patients"] * scale,
        max_sessions=sim["max_sessions"],
        mess=sim["mess"],
    )
    ids = {"patient_id": "string", "therapist_id": "string"}
    sessions = study.sessions.astype(ids)
    therapists = study.therapists.astype({"therapist_id": "string"})
    return analysis_table(sessions, therapists, config)[1]


def model_jobs(table: pd.DataFrame, config: dict) -> list[tuple[str, Callable[[], object]]]:
    measures = config["measures"]
    outcomes = list(measures["outcomes"])
    processes = list(measures["processes"])
    moderators = {k: v["type"] for k, v in measures["moderators"].items()}
    jobs: list[tuple[str, Callable[[], object]]] = []
    for o in outcomes:
        higher_is = measures["outcomes"][o]["higher_is"]
        for p in processes:
            jobs.append((f"aim1/{o}/{p}", lambda o=o, p=p: aims.fit_aim1(table, o, p)))

            def aim2(o=o, p=p, h=higher_is):
                return aims.fit_aim2(table, o, p, aims.fit_aim1(table, o, p), higher_is=h)

            jobs.append((f"aim2/{o}/{p} (+ nested aim1)", aim2))
            jobs.append((f"aim3/{o}/{p} ({len(moderators)} moderators)",
                         lambda o=o, p=p: aims.fit_aim3(table, o, p, moderators)))  # fmt: skip
        jobs.append((f"aim1/{o}/joint", lambda o=o: aims.fit_aim1_joint(table, o, processes)))
    return jobs


def bench(table: pd.DataFrame, config: dict, repeat: int) -> float:
    total = 0.0
    for key, job in model_jobs(table, config):
        best = min(_timed(job) for _ in range(repeat))
        total += best
        print(f"  {key:<50s} {best:7.3f} s")
    print(f"  {'total':<50s} {total:7.3f} s")
    return total


def _timed(job: Callable[[], object]) -> float:
    start = time.perf_counter()
    job()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = load_config(ROOT / "config/config.yaml", ROOT / "workflow/schemas/config.schema.yaml")
    for scale in (1, args.scale):
        table = patient_table(config, scale)
        print(
            f"study x{scale}: {table['therapist'].nunique()} therapists, {len(table)} patients "
            f"(best of {args.repeat})"
        )
        bench(table, config, args.repeat)


if __name__ == "__main__":
    main()
