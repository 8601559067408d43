"""Refit every cluster-bootstrap resample of the public reference set and compare with lme4.

Usage::

    python benchmarks/bench_bootstrap.py [--path aim3|aim2] [--models NAME ...]

For each resample stored in ``tests/data/public/lme4_reference.json`` (groups drawn with
replacement, each draw a distinct group), fits the slope model with :func:`fit_mixed`
and prints how far its REML log-likelihood is below lme4's (best of its default and
bobyqa optimizers). ``--path aim3`` fits without ``start`` (the aim 3 call);
``--path aim2`` first fits the random-intercept model and passes it as ``start`` and
``min_loglik`` (the aim 2 call). pytest runs a subset (tests/unit/mixed/test_public_lme4.py);
this is the full sweep. A script, not a test.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from process_outcome.data.public import (
    bootstrap_data,
    identifiable_terms,
    load_reference,
    model_data,
    models,
)
from process_outcome.mixed.fit import fit_mixed

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "public"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", choices=("aim3", "aim2"), default="aim3")
    parser.add_argument("--models", nargs="*", default=None)
    args = parser.parse_args()
    reference = load_reference(DATA)
    specs = models(reference)
    worst, n_fits, n_not_converged, total = 0.0, 0, 0, 0.0
    for name, boot in reference["bootstrap"].items():
        if args.models and name not in args.models:
            continue
        spec = specs[name]
        base = model_data(DATA, reference, spec)
        shortfalls = []
        start = time.perf_counter()
        for k, resample in enumerate(boot["resamples"]):
            data = bootstrap_data(base, spec.group, resample["groups"])
            terms = identifiable_terms(data, spec.terms)
            nested = None
            if args.path == "aim2":
                nested = fit_mixed(data, spec.response, terms, spec.group)
            fit = fit_mixed(
                data,
                spec.response,
                terms,
                spec.group,
                spec.slope,
                start=nested,
                min_loglik=None if nested is None else nested.loglik,
            )
            short = resample["logLik"] - fit.loglik
            shortfalls.append(short)
            n_fits += 1
            n_not_converged += not fit.converged
            if short > 1e-6 or not fit.converged:
                print(
                    f"  {name} #{k}: {short:.3g} below lme4, converged={fit.converged}, "
                    f"escalation={list(fit.escalation)}"
                )
        elapsed = time.perf_counter() - start
        total += elapsed
        worst = max(worst, *shortfalls)
        print(
            f"{name:16s} {len(shortfalls)} refits in {elapsed:6.2f} s; "
            f"worst shortfall {max(shortfalls):.3g}, best gain {-min(shortfalls):.3g}"
        )
    print(
        f"all: {n_fits} refits in {total:.1f} s; worst logLik shortfall vs lme4 {worst:.3g}; "
        f"not converged {n_not_converged}"
    )


if __name__ == "__main__":
    main()
