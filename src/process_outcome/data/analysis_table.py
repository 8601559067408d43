"""Patient-level analysis variables (spec section 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from process_outcome.config import Measure, measures_of
from process_outcome.data import ids
from process_outcome.data.cleaning import CleanData, clean

__all__ = [
    "analysis_table",
    "covariate_design",
    "covariate_terms",
    "patient_table",
    "split_within_between",
]

# Fewer therapists leave no degrees of freedom for an intercept variance, a slope
# variance and their covariance; lme4 refuses such fits too.


def split_within_between(
    table: pd.DataFrame, column: str, group: str = "therapist"
) -> pd.DataFrame:
    """Split a patient-level variable into within- and between-therapist components.

    Parameters
    ----------
    table : DataFrame
        One row per patient, with ``column`` and the group column.
    column : str
        The patient-level variable (for example ``alliance_mean``).
    group : str
        The therapist column.

    Returns
    -------
    DataFrame
        Two columns, ``within`` (patient value minus the therapist's mean over their
        sample patients) and ``between`` (therapist mean minus the mean over all sample
        patients, so grand-mean centred), aligned with ``table``'s index.
    """
    therapist_mean = table.groupby(group)[column].transform("mean")
    return pd.DataFrame(
        {
            "within": table[column] - therapist_mean,
            "between": therapist_mean - table[column].mean(),
        },
        index=table.index,
    )


def patient_table(
    sessions: pd.DataFrame,
    therapists: pd.DataFrame,
    outcomes: Sequence[Measure],
    processes: Sequence[Measure],
    moderators: Sequence[Measure] = (),
    covariates: Sequence[Measure] = (),
    patients: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Build the patient-level table of the analysis sample.

    Parameters
    ----------
    sessions : DataFrame
        Cleaned session rows (``patient``, ``therapist``, ``session`` and a column per
        measure key), restricted to the analysis sample.
    therapists : DataFrame
        One row per sample therapist with a column per moderator key.
    outcomes, processes, moderators, covariates : sequence of Measure
        The configured measures.
    patients : DataFrame, optional
        Cleaned patient table with a column per covariate key (needed with covariates).

    Returns
    -------
    DataFrame
        One row per patient, sorted by patient id: ``patient``, ``therapist``, for each
        outcome ``n_<o>``, ``baseline_<o>``, ``post_<o>``; for each process
        ``<p>_mean``, ``<p>_within``, ``<p>_between``; ``baseline_<o>_c``; and each
        moderator (continuous ones centred at the mean over sample therapists, each
        therapist counted once; binary ones as 0/1); then each covariate: continuous
        ones grand-mean centred under their key, categorical ones as 0/1 indicator
        columns ``<key>[<level>]`` for every level but the reference (the configured
        one, else the first in sorted order).
    """
    s = sessions.sort_values(["patient", "session"], kind="mergesort")
    by = s.groupby("patient", sort=True)
    out = pd.DataFrame({"therapist": by["therapist"].first()})
    for o in outcomes:
        # groupby first/last skip missing values: the first and last *observed* scores.
        out[f"n_{o.key}"] = by[o.key].count()
        out[f"baseline_{o.key}"] = by[o.key].first()
        out[f"post_{o.key}"] = by[o.key].last()
    for p in processes:
        out[f"{p.key}_mean"] = by[p.key].mean()
    for p in processes:
        parts = split_within_between(out, f"{p.key}_mean")
        out[f"{p.key}_within"] = parts["within"]
        out[f"{p.key}_between"] = parts["between"]
    for o in outcomes:
        out[f"baseline_{o.key}_c"] = out[f"baseline_{o.key}"] - out[f"baseline_{o.key}"].mean()
    if moderators:
        t = therapists.set_index("therapist")[[m.key for m in moderators]].copy()
        t = t.loc[ids.isin(t.index.to_series(), ids.distinct(out["therapist"]))]
        for m in moderators:
            if m.type == "continuous":
                t[m.key] = t[m.key] - t[m.key].mean()
        out = out.join(t, on="therapist")
    if covariates:
        assert patients is not None, "covariates need the patients table"
        cov = patients.set_index("patient").reindex(out.index)
        for c in covariates:
            for name, column in covariate_design(cov[c.key], c).items():
                out[name] = column
    out = out.reset_index().rename(columns={"index": "patient"})
    return out


def covariate_design(values: pd.Series, covariate: Measure) -> dict[str, pd.Series]:
    """Model columns of one covariate.

    Continuous covariates are centred at their mean over the sample, so the intercept
    stays the expected outcome of an average patient; categorical covariates become
    indicator columns ``<key>[<level>]`` against the reference level.
    """
    if covariate.type == "continuous":
        v = values.astype(float)
        return {covariate.key: v - v.mean()}
    levels = sorted(values.dropna().astype(str).unique())
    reference = str(covariate.reference) if covariate.reference is not None else levels[0]
    return {
        f"{covariate.key}[{level}]": (values.astype(str) == level)
        .astype(float)
        .where(values.notna())
        for level in levels
        if level != reference
    }


def covariate_terms(table: pd.DataFrame, covariates: Sequence[Measure]) -> list[str]:
    """The model terms of the configured covariates present in a patient-level table."""
    keys = {c.key for c in covariates}
    indicator = [c for c in table.columns if c.endswith("]") and c.split("[", 1)[0] in keys]
    return [c for c in table.columns if c in keys or c in indicator]


def analysis_table(
    sessions: pd.DataFrame,
    therapists: pd.DataFrame,
    config: Mapping[str, Any],
    patients: pd.DataFrame | None = None,
) -> tuple[CleanData, pd.DataFrame]:
    """Clean the input tables and build the patient-level table in one call.

    Parameters
    ----------
    sessions, therapists, patients : DataFrame
        Input tables with the user's column names.
    config : mapping
        The validated config.

    Returns
    -------
    (CleanData, DataFrame)
        The cleaned data and the patient-level table of :func:`patient_table`.

    Raises
    ------
    InputError
        For every problem of the input tables (:func:`process_outcome.data.cleaning.clean`).
        Whether the models can be fitted to the sample is the analysis layer's check
        (:func:`process_outcome.analysis.feasibility.check_feasibility`).
    """
    data = clean(sessions, therapists, config, patients=patients)
    table = patient_table(
        data.sessions,
        data.therapists,
        measures_of(config, "outcome"),
        measures_of(config, "process"),
        measures_of(config, "moderator"),
        measures_of(config, "covariate"),
        data.patients,
    )
    return data, table
