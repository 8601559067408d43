"""Recovery of session-level effects, and the patient-level design under outcome-driven
process change.

On studies of the default shape (42 therapists, 212 patients, up to 10 weekly sessions, MAR
dropout) simulated by :func:`process_outcome.data.simulate_sessions.simulate_session_study`
with known state-like and trait-like effects, the script fits

- the session-level model of :mod:`process_outcome.analysis.sessions` with the patient level
  as the running mean of ratings so far (``prior``, the default) and as the mean over all
  sessions (``all``, Curran & Bauer's textbook split), and
- the last-observation patient-level design of the current aims (last observed outcome on
  the process mean over all sessions split within/between therapists, intake outcome
  controlled, therapist-varying alliance slope), reimplemented here,

under three settings with the same seeds: no outcome-driven process change (``off``), the
default change with the generating state taken from the running patient level
(``on/running``) and from the latent trait alone (``on/latent``). It prints bias and 95% CI
coverage (Satterthwaite) with Monte Carlo SEs for the session-level fixed effects, the mean
within-slope SD and the mixture LR test's rejection rate, and the patient-level alliance
estimate with and without the reverse path (it has no session-level truth: the paired shift
is what outcome-driven change does to it).

Run: ``nice -n 10 python benchmarks/bench_session_recovery.py --replicates 200``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from process_outcome.analysis.sessions import (
    fit_session_model,
    lagged_table,
)
from process_outcome.data.analysis_table import split_within_between
from process_outcome.data.simulate_sessions import simulate_session_study
from process_outcome.mixed import lmer, mixture_lr_test

PROCESSES = ["alliance", "expectation"]
OUTCOME = "symptoms"
TERMS = {
    "symptoms_now_c": "lag",
    "alliance_within": "alliance_within",
    "alliance_between_patient": "alliance_between_patient",
    "alliance_between_therapist": "alliance_between_therapist",
    "expectation_within": "expectation_within",
    "expectation_between_patient": "expectation_between_patient",
    "expectation_between_therapist": "expectation_between_therapist",
}
SETTINGS = {"off": (0.0, "running"), "on/running": (1.0, "running"), "on/latent": (1.0, "latent")}


def patient_level(sessions: pd.DataFrame) -> tuple[float, float, bool]:
    """The current aims' last-observation design; alliance within-therapist estimate, SE,
    and whether the fit is usable (converged, not singular)."""
    d = sessions.sort_values(["patient_id", "session"])
    g = d.groupby("patient_id")
    p = g.agg(therapist_id=("therapist_id", "first"), base=("symptoms", "first"))
    p["post"] = g["symptoms"].last()
    p["base_c"] = p["base"] - p["base"].mean()
    for proc in PROCESSES:
        p[f"{proc}_mean"] = g[proc].mean()
        parts = split_within_between(p, f"{proc}_mean", group="therapist_id")
        p[f"{proc}_w"], p[f"{proc}_b"] = parts["within"], parts["between"]
    fit = lmer(
        "post ~ base_c + alliance_w + alliance_b + expectation_w + expectation_b"
        " + (1 + alliance_w | therapist_id)",
        p.reset_index(),
    )
    row = fit.coef_table().set_index("term").loc["alliance_w"]
    return float(row["estimate"]), float(row["se"]), bool(fit.converged)


def one(seed: int, setting: str, slope_test: bool) -> list[dict]:
    scale, reference = SETTINGS[setting]
    s = simulate_session_study(seed=seed, delta_scale=scale, state_reference=reference).sessions
    rows = []
    for centering in ("prior", "all"):
        tab = lagged_table(s, OUTCOME, PROCESSES, centering=centering)
        fit = fit_session_model(tab, OUTCOME, PROCESSES, "alliance")
        c = fit.coef_table().set_index("term")
        rec = {"seed": seed, "setting": setting, "model": f"session/{centering}"}
        for term in TERMS:
            rec[f"{term}_est"] = c.loc[term, "estimate"]
            rec[f"{term}_lo"] = c.loc[term, "ci_low"]
            rec[f"{term}_hi"] = c.loc[term, "ci_high"]
        rec["slope_sd"] = np.sqrt(max(fit.variance_components["therapist_id|alliance_within|"], 0))
        rec["converged"] = fit.converged
        rec["singular"] = fit.singular
        if slope_test and centering == "prior":
            base = fit_session_model(tab, OUTCOME, PROCESSES, None)
            rec["lr_p"] = mixture_lr_test(fit.loglik, base.loglik)[1]
        rows.append(rec)
    est, se, ok = patient_level(s)
    rows.append(
        {"seed": seed, "setting": setting, "model": "patient", "pl_est": est, "pl_se": se,
         "converged": ok}
    )  # fmt: skip
    return rows


def mc(values: pd.Series) -> tuple[float, float]:
    v = values.dropna().to_numpy(dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()
    truth = simulate_session_study(seed=0, n_therapists=4, n_patients=8).truth
    truth = truth[truth["outcome"] == OUTCOME].set_index("parameter")["value"]
    start = time.perf_counter()
    rows = []
    for r in range(args.replicates):
        for setting in SETTINGS:
            rows += one(args.seed + r, setting, slope_test=setting == "on/running")
    res = pd.DataFrame(rows)
    elapsed = time.perf_counter() - start
    n = args.replicates
    print(
        f"session-level recovery: {n} replicates x {len(SETTINGS)} settings, 42 therapists, "
        f"212 patients, up to 10 sessions, MAR dropout; {elapsed:.0f} s"
    )
    sess = res[res["model"].str.startswith("session")]
    print(
        f"fits: {int((~sess['converged'].astype(bool)).sum())} not converged, "
        f"{int(sess['singular'].astype(bool).sum())} singular of {len(sess)}"
    )
    print("\nbias (MC SE) and 95% CI coverage (MC SE) of the session-level model")
    for (setting, model), g in sess.groupby(["setting", "model"], sort=False):
        print(f"\n[{setting}] {model}")
        for term, par in TERMS.items():
            b, b_se = mc(g[f"{term}_est"] - truth[par])
            cover = (g[f"{term}_lo"] <= truth[par]) & (truth[par] <= g[f"{term}_hi"])
            cv, cv_se = mc(cover.astype(float))
            print(
                f"  {term:<31} truth {truth[par]:+.3f}  bias {b:+.4f} ({b_se:.4f})  "
                f"coverage {cv:.3f} ({cv_se:.3f})"
            )
        sd, sd_se = mc(g["slope_sd"])
        print(
            f"  within-slope SD: mean {sd:.3f} ({sd_se:.3f}), truth {truth['within_slope_sd']:.3f}"
        )
        if "lr_p" in g and g["lr_p"].notna().any():
            rej, rej_se = mc((g["lr_p"] < 0.05).astype(float))
            print(
                f"  mixture LR test of the slope variance: rejection rate {rej:.3f} ({rej_se:.3f})"
            )
    pl = res[res["model"] == "patient"].set_index(["seed", "setting"])["pl_est"].unstack()
    print("\npatient-level design (last observed outcome on the process mean over all sessions)")
    for setting in SETTINGS:
        m, m_se = mc(pl[setting])
        print(f"  [{setting}] alliance within-therapist estimate: mean {m:+.4f} ({m_se:.4f})")
    for setting in ("on/running", "on/latent"):
        d, d_se = mc(pl[setting] - pl["off"])
        print(f"  shift from outcome-driven change [{setting} - off]: {d:+.4f} ({d_se:.4f})")
    for model in ("session/prior", "session/all"):
        g = sess[sess["model"] == model].set_index(["seed", "setting"])
        w = g["alliance_within_est"].unstack()
        for setting in ("on/running", "on/latent"):
            d, d_se = mc(w[setting] - w["off"])
            print(f"  {model} alliance_within shift [{setting} - off]: {d:+.4f} ({d_se:.4f})")


if __name__ == "__main__":
    main()
