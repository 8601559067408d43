"""Does the latent-mean correction recover the between-therapist effect? (heavy check)

Draws many studies from the latent covariate model (``simulate_latent_study``: small,
unequal caseloads, ICC(1) of the process 0.08, true within -0.45 and between 0.15)
and fits each with the manifest aim 1 model (observed therapist means) and with the
latent covariate model. Prints, for each design, the mean estimate of the between
effect, its Monte Carlo SE, the value the observed-mean estimate should take
(Lüdtke et al., 2008: ICC(2) x between + (1 - ICC(2)) x within, at the average
ICC(2) over therapists), the coverage of the latent model's 95% Wald CIs of the
between and contextual effects, the share of fits that converged and were identified,
and the RMSE (with Monte Carlo SE) of the three between estimators.

Usage: ``python benchmarks/bench_latent_means.py [--replicates 200] [--seed 2024]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from process_outcome.analysis.latent_means import fit_latent_covariate, simulate_latent_study
from process_outcome.mixed.fit import fit_mixed

TRUE_WITHIN, TRUE_BETWEEN, ICC1 = -0.45, 0.15, 0.08


def one(rng: np.random.Generator, n_therapists: int) -> dict[str, float]:
    d = simulate_latent_study(rng, n_therapists=n_therapists, icc1=ICC1)
    manifest = fit_mixed(d, "y", ["z", "x_within", "x_between"], "therapist")
    observed = float(manifest.coefficients.set_index("term").loc["x_between", "estimate"])
    latent = fit_latent_covariate(d, "y", ["x"], "therapist", ["z"])
    eff = latent.effects.set_index("part")
    reg = fit_latent_covariate(d, "y", ["x"], "therapist", ["z"], regularized=True)
    reg_b = reg.effects.set_index("part").loc["between"]
    caseload = d.groupby("therapist").size().to_numpy(float)
    reliability = float(np.mean(ICC1 / (ICC1 + (1 - ICC1) / caseload)))
    b, c = eff.loc["between"], eff.loc["contextual"]
    return {
        "observed": observed,
        "latent": float(b["estimate"]),
        "cover_b": float(b["ci_low"] <= TRUE_BETWEEN <= b["ci_high"]),
        "cover_c": float(c["ci_low"] <= TRUE_BETWEEN - TRUE_WITHIN <= c["ci_high"]),
        "reliability": reliability,
        "converged": float(latent.converged),
        "identified": float(latent.converged and not latent.boundary),
        "regularized": float(reg_b["estimate"]),
        "cover_r": float(reg_b["ci_low"] <= TRUE_BETWEEN <= reg_b["ci_high"]),
        "reg_converged": float(reg.converged),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--therapists", type=int, nargs="+", default=[42, 150])
    args = parser.parse_args()
    for n_therapists in args.therapists:
        rng = np.random.default_rng([args.seed, n_therapists])
        start = time.perf_counter()
        rows = [one(rng, n_therapists) for _ in range(args.replicates)]
        res = {k: np.array([r[k] for r in rows]) for k in rows[0]}
        ok = res["converged"] == 1
        mc = lambda a: a.std(ddof=1) / np.sqrt(a.size)  # noqa: E731
        expected = float(np.mean(res["reliability"])) * (TRUE_BETWEEN - TRUE_WITHIN) + TRUE_WITHIN
        print(
            f"{n_therapists} therapists, {args.replicates} studies "
            f"({time.perf_counter() - start:.0f} s): true between {TRUE_BETWEEN}, within "
            f"{TRUE_WITHIN}, mean ICC(2) {np.mean(res['reliability']):.3f}\n"
            f"  observed-mean between: {res['observed'].mean():.3f} (MC SE "
            f"{mc(res['observed']):.3f}; Lüdtke et al. expect {expected:.3f})\n"
            f"  latent between:        {res['latent'][ok].mean():.3f} (MC SE "
            f"{mc(res['latent'][ok]):.3f}), median {np.median(res['latent'][ok]):.3f}\n"
            f"  95% CI coverage: between {res['cover_b'][ok].mean():.3f}, contextual "
            f"{res['cover_c'][ok].mean():.3f}; converged {ok.mean():.3f}, identified "
            f"(converged, latent between variance > 0) {res['identified'].mean():.3f}\n"
            f"  regularized latent between (boundary-avoiding prior): "
            f"{res['regularized'].mean():.3f}, median {np.median(res['regularized']):.3f}, "
            f"95% CI coverage {res['cover_r'].mean():.3f}, converged "
            f"{res['reg_converged'].mean():.3f}"
        )
        # RMSE over every study (the latent ML estimate as reported, identified or not)
        for name in ("observed", "latent", "regularized"):
            err = res[name] - TRUE_BETWEEN
            rmse = float(np.sqrt(np.mean(err**2)))
            # delta-method MC SE of the RMSE
            se = float(np.std(err**2, ddof=1) / np.sqrt(err.size) / (2 * rmse))
            print(
                f"  RMSE {name:12s} {rmse:.3f} (MC SE {se:.3f}); bias {err.mean():+.3f}, "
                f"SD {err.std(ddof=1):.3f}"
            )


if __name__ == "__main__":
    main()
