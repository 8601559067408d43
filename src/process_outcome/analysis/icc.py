"""How reliably a therapist's observed caseload mean measures the therapist's true mean.

ICC(1) is the share of a patient-level variable's variance that lies between
therapists, ``tau2 / (tau2 + sigma2)``, from a REML random-intercept model. ICC(2) is
the reliability of the mean of ``n`` patients of one therapist,
``tau2 / (tau2 + sigma2 / n)``, i.e. the Spearman-Brown step-up of ICC(1) to ``n``
(Bliese, 2000; Lüdtke et al., 2008, Equation 5). With unequal caseloads it is given at
the mean and at the harmonic-mean caseload, and averaged over therapists.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["ICC_COLUMNS", "icc2", "icc_table", "mean_reliability"]

ICC_COLUMNS = [
    "variable",
    "n_patients",
    "n_therapists",
    "tau2",
    "sigma2",
    "icc1",
    "caseload_mean",
    "caseload_harmonic",
    "icc2_mean_caseload",
    "icc2_harmonic_caseload",
    "icc2_average",
]


def icc2(icc1: float, n: float) -> float:
    """Reliability of a mean of ``n`` patients (Spearman-Brown step-up of ICC(1)).

    Examples
    --------
    >>> round(icc2(0.07, 5.0), 3)
    0.273
    """
    return n * icc1 / (1.0 + (n - 1.0) * icc1)


def mean_reliability(
    patients: pd.DataFrame, column: str, group: str = "therapist"
) -> dict[str, float]:
    """ICC(1) and ICC(2) of one patient-level variable across therapists.

    Parameters
    ----------
    patients : pandas.DataFrame
        One row per patient.
    column : str
        The variable (e.g. ``alliance_mean``); rows where it is missing are left out.
    group : str
        Therapist column.

    Returns
    -------
    dict
        The :data:`ICC_COLUMNS` fields but ``variable``: ``tau2`` and ``sigma2`` from a
        REML random-intercept model ``column ~ 1 + (1 | group)``; ``icc2_average`` is
        the mean over therapists of ``tau2 / (tau2 + sigma2 / n_j)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(40), 5)
    >>> x = rng.normal(0, 0.5, 40)[g] + rng.normal(0, 1, g.size)
    >>> out = mean_reliability(pd.DataFrame({"x": x, "therapist": g}), "x")
    >>> out["caseload_mean"], bool(0 < out["icc2_mean_caseload"] < 1)
    (5.0, True)
    """
    from process_outcome.mixed.fit import fit_mixed

    used = patients.loc[patients[column].notna(), [column, group]]
    fit = fit_mixed(used, column, terms=(), group=group)
    tau2 = float(fit.variance_components[f"{group}|(Intercept)|"])
    sigma2 = float(fit.variance_components["Residual||"])
    icc1 = tau2 / (tau2 + sigma2)
    caseload = used.groupby(group).size().to_numpy(dtype=float)
    mean_n = float(caseload.mean())
    harmonic = float(len(caseload) / np.sum(1.0 / caseload))
    return {
        "n_patients": len(used),
        "n_therapists": len(caseload),
        "tau2": tau2,
        "sigma2": sigma2,
        "icc1": icc1,
        "caseload_mean": mean_n,
        "caseload_harmonic": harmonic,
        "icc2_mean_caseload": icc2(icc1, mean_n),
        "icc2_harmonic_caseload": icc2(icc1, harmonic),
        "icc2_average": float(np.mean(tau2 / (tau2 + sigma2 / caseload))),
    }


def icc_table(
    patients: pd.DataFrame, columns: Sequence[str], group: str = "therapist"
) -> pd.DataFrame:
    """One row of :func:`mean_reliability` per variable, columns :data:`ICC_COLUMNS`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(30), 4)
    >>> d = pd.DataFrame({"therapist": g, "a": rng.normal(size=g.size) + g % 3})
    >>> icc_table(d, ["a"])["variable"].tolist()
    ['a']
    """
    rows = [{"variable": c} | mean_reliability(patients, c, group) for c in columns]
    return pd.DataFrame(rows, columns=ICC_COLUMNS)
