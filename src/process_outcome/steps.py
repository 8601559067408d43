"""One function per workflow rule: read the rule's input files, call the library, write
its outputs. The scripts in ``scripts/`` only pass Snakemake's paths to these."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from process_outcome import io, privacy
from process_outcome.config import measures_of
from process_outcome.descriptives import (
    correlations,
    descriptives,
    icc1,
    reliability_table,
    repeated_measures_correlations,
)
from process_outcome.errors import InputError
from process_outcome.runstate import watch_parent_workflow
from process_outcome.simulate import SimulatedStudy, simulate_study
from process_outcome.variables import analysis_table, covariate_terms, restrict_caseload

log = logging.getLogger("process_outcome")


def run(step: Callable[..., None], log_path: str | Path, **kwargs: Any) -> None:
    """Run one workflow step, logging to ``log_path``.

    A user's mistake (:class:`InputError`) is printed as a plain message, without a
    traceback, to the log and to standard error, and the process exits with status 1 so
    that Snakemake stops and removes the step's outputs. A step whose Snakemake was
    killed stops too (:func:`~process_outcome.runstate.watch_parent_workflow`).
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    start = time.perf_counter()
    watch_parent_workflow()
    try:
        step(**kwargs)
    except InputError as exc:
        message = f"\nERROR: {exc}\n"
        log.error("%s", exc)
        sys.stderr.write(message)
        sys.exit(1)
    finally:
        log.info("%s finished in %.2f s", step.__name__, time.perf_counter() - start)
        handler.close()
        root.removeHandler(handler)


def _simulate(config: Mapping[str, Any]) -> SimulatedStudy:
    sim = config["simulate"]
    return simulate_study(
        seed=sim["seed"],
        n_therapists=sim["n_therapists"],
        n_patients=sim["n_patients"],
        max_sessions=sim["max_sessions"],
        mess=sim["mess"],
    )


def simulate(
    config: Mapping[str, Any], sessions: str, therapists: str, patients: str, truth: str
) -> None:
    """Write the simulated study's tables and its generating parameters."""
    study = _simulate(config)
    io.write_csv(study.sessions, sessions)
    io.write_csv(study.therapists, therapists)
    io.write_csv(study.patients, patients)
    io.write_csv(study.truth, truth)
    log.info("simulated %d session rows (seed %d)", len(study.sessions), config["simulate"]["seed"])


def therapist_codes(therapists: pd.Series, avoid: Iterable[str] = ()) -> pd.DataFrame:
    """Stable pseudonymous codes in sorted order of the original ids.

    ``T01``, ``T02``, … unless an id of the study has that shape (``T07``): then the
    codes take another prefix (``TH01``, …; see
    :func:`process_outcome.privacy.code_prefix`), so that a code never equals an id and
    the shared tables cannot show a real id under a code's name.

    Parameters
    ----------
    therapists : Series
        The therapist ids to code.
    avoid : iterable of str
        Every other id of the study (patients', and therapists' outside the sample).

    Returns
    -------
    DataFrame
        Columns ``therapist`` (original id) and ``code``.

    Examples
    --------
    >>> therapist_codes(pd.Series(["T2", "T1"]))["code"].tolist()
    ['TH01', 'TH02']
    """
    return privacy.pseudonymous_codes(therapists.astype(str), avoid)


def pseudonymize(
    table: pd.DataFrame, codes: pd.DataFrame, column: str = "therapist"
) -> pd.DataFrame:
    """Replace original therapist ids by their codes (order is preserved)."""
    mapping = dict(zip(codes["therapist"].astype(str), codes["code"], strict=True))
    out = table.copy()
    out[column] = out[column].astype(str).map(mapping)
    return out


def _simulated_tables(config: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    study = _simulate(config)
    cols = config["data"]["columns"]
    # As read from the CSV files: ids as text.
    ids = {cols["patient"]: "string", cols["therapist"]: "string"}
    tables = {
        "sessions": study.sessions.rename(
            columns={"patient_id": cols["patient"], "therapist_id": cols["therapist"]}
        ).astype(ids),
        "therapists": study.therapists.rename(columns={"therapist_id": cols["therapist"]}).astype(
            {cols["therapist"]: "string"}
        ),
        "patients": study.patients.rename(columns={"patient_id": cols["patient"]}).astype(
            {cols["patient"]: "string"}
        ),
    }
    for name, df in tables.items():
        df.attrs["path"] = f"simulated {name} (seed {config['simulate']['seed']})"
    return tables


def _read_inputs(
    config: Mapping[str, Any], sessions: str, therapists: str, patients: str | None
) -> dict[str, pd.DataFrame]:
    cols = config["data"]["columns"]
    id_columns = {
        "sessions": (cols["patient"], cols["therapist"]),
        "therapists": (cols["therapist"],),
        "patients": (cols["patient"],),
    }
    paths = {"sessions": sessions, "therapists": therapists, "patients": patients}
    return {
        name: io.read_table(
            path,
            table=name,
            id_columns=id_columns[name],
            options=io.ReadOptions.from_config(config["data"], name),
        )
        for name, path in paths.items()
        if path
    }


def validate_data(
    config: Mapping[str, Any],
    sessions: str | None = None,
    therapists: str | None = None,
    patients: str | None = None,
) -> None:
    """Check the data and config only, and print a summary (the ``validate`` target).

    With ``data.source: simulate`` and no paths, the study is simulated in memory, so
    validation does not wait for (or write) the simulated files.
    """
    from process_outcome.cleaning import validation_summary

    if sessions is None or therapists is None:
        tables = _simulated_tables(config)
    else:
        tables = _read_inputs(config, sessions, therapists, patients)
    # analysis_table also checks that every model can be fitted, so that everything
    # the model jobs would reject is found here, in seconds.
    data, _ = analysis_table(
        tables["sessions"], tables["therapists"], config, patients=tables.get("patients")
    )
    text = validation_summary(data, tables, config)
    sys.stdout.write(text)
    log.info("%s", text)
    # What would stop the supplement's privacy scan after the whole analysis is found here.
    for warning in privacy.privacy_precheck(config, tables):
        log.warning("%s", warning)
        sys.stdout.write(f"WARNING: {warning}\n")


def clean_data(
    config: Mapping[str, Any],
    sessions: str,
    therapists: str,
    patients: str | None,
    out_sessions: str,
    out_therapists: str,
    out_patients: str,
    out_covariates: str,
    exclusions: str,
    flow: str,
    codes: str,
    out_reliability: str,
) -> None:
    """Read and clean the input tables and write the analysis sample."""
    tables = _read_inputs(config, sessions, therapists, patients)
    data, table = analysis_table(
        tables["sessions"], tables["therapists"], config, patients=tables.get("patients")
    )
    io.write_csv(data.sessions, out_sessions)
    io.write_csv(data.therapists, out_therapists)
    io.write_csv(table, out_patients)
    covariates = data.patients if data.patients is not None else table[["patient"]]
    io.write_csv(covariates, out_covariates)
    io.write_csv(data.exclusions, exclusions)
    io.write_json(
        {
            "steps": data.flow,
            "exclusions": data.exclusions["reason"].value_counts().sort_index().to_dict(),
        },
        flow,
    )
    # Codes avoid every id of the input tables, not only the sample's: the supplement's
    # privacy scan looks for all of them.
    ids = privacy.study_ids(tables, config["data"]["columns"])
    io.write_csv(therapist_codes(table["therapist"], avoid=ids), codes)
    # What would stop the supplement's privacy scan is found before the models run.
    for warning in privacy.privacy_precheck(config, tables):
        log.warning("%s", warning)
        sys.stderr.write(f"WARNING: {warning}\n")
    labels = {
        m.key: m.label for m in measures_of(config, "outcome") + measures_of(config, "process")
    }
    io.write_csv(reliability_table(data.items, labels), out_reliability)
    log.info(
        "analysis sample: %d patients, %d therapists", len(table), table["therapist"].nunique()
    )


def describe_sample(
    config: Mapping[str, Any],
    sessions: str,
    patients: str,
    therapists: str,
    out_descriptives: str,
    out_correlations: str,
    out_rm_correlations: str,
) -> None:
    """Descriptive statistics, ICCs, patient-level and repeated-measures correlations."""
    s = pd.read_csv(sessions, dtype={"patient": str, "therapist": str})
    pt = pd.read_csv(patients, dtype={"patient": str, "therapist": str})
    t = pd.read_csv(therapists, dtype={"therapist": str})
    outcomes = measures_of(config, "outcome")
    processes = measures_of(config, "process")
    desc = descriptives(s, pt, t, outcomes, processes, measures_of(config, "moderator"), icc1)
    io.write_csv(desc, out_descriptives)
    cols = [f"baseline_{o.key}" for o in outcomes] + [f"post_{o.key}" for o in outcomes]
    cols += [f"{p.key}_mean" for p in processes]
    io.write_csv(correlations(pt, cols), out_correlations)
    io.write_csv(repeated_measures_correlations(s, outcomes, processes), out_rm_correlations)


def _coded_patients(patients: str, codes: str) -> pd.DataFrame:
    # Models see pseudonymous therapist codes only, so no model summary can leak an id.
    pt = pd.read_csv(patients, dtype={"patient": str, "therapist": str})
    return pseudonymize(pt, pd.read_csv(codes, dtype=str))


def _slope_sample(config: Mapping[str, Any], patients: str, codes: str) -> pd.DataFrame:
    minimum = config["analysis"]["min_caseload_slopes"]
    return restrict_caseload(_coded_patients(patients, codes), minimum)


def _outcome(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return config["measures"]["outcomes"][key]


def aim1_model(
    config: Mapping[str, Any], patients: str, codes: str, outcome: str, process: str, out_json: str
) -> None:
    """Fit the aim 1 model of one outcome and process (or all processes: ``joint``)."""
    from process_outcome import aims

    pt = _coded_patients(patients, codes)
    covariates = covariate_terms(pt, measures_of(config, "covariate"))
    if process == "joint":
        fit = aims.fit_aim1_joint(pt, outcome, list(config["measures"]["processes"]), covariates)
    else:
        fit = aims.fit_aim1(pt, outcome, process, covariates)
    io.write_json(
        {"aim": "aim1", "outcome": outcome, "process": process, "fit": fit.to_dict()}, out_json
    )
    log.info("aim 1 %s/%s: REML logLik %.4f (%s)", outcome, process, fit.loglik, fit.optimizer)


def aim2_model(
    config: Mapping[str, Any], patients: str, codes: str, outcome: str, process: str, out_json: str
) -> None:
    """Fit the aim 2 random-slope model and test the slope variance against aim 1."""
    from process_outcome import aims

    pt = _slope_sample(config, patients, codes)
    covariates = covariate_terms(pt, measures_of(config, "covariate"))
    # The nested random-intercept model is refitted here (milliseconds) rather than
    # read back: it must use the same patients, and it supplies starting values.
    nested = aims.fit_aim1(pt, outcome, process, covariates)
    higher_is = _outcome(config, outcome)["higher_is"]
    res = aims.fit_aim2(pt, outcome, process, nested, higher_is, covariates)
    summary = {
        "aim": "aim2",
        "outcome": outcome,
        "process": process,
        "fit": res.fit.to_dict(),
        "nested_loglik": nested.loglik,
        "lr": res.lr,
        "p_mixture": res.p_mixture,
        "slope_sd": res.slope_sd,
        "slope_low": res.slope_low,
        "slope_high": res.slope_high,
        "share_beneficial": res.share_beneficial,
        "singular": bool(res.singular),
        "n_patients": int(res.n_patients),
        "n_therapists": int(res.n_therapists),
        "nesting_violation": bool(getattr(res, "nesting_violation", False)),
        "therapist_slopes": res.therapist_slopes.to_dict("records"),
    }
    io.write_json(summary, out_json)
    log.info(
        "aim 2 %s/%s: LR %.3f, p %.4f, slope SD %.4f",
        outcome,
        process,
        res.lr,
        res.p_mixture,
        res.slope_sd,
    )


def aim3_model(
    config: Mapping[str, Any], patients: str, codes: str, outcome: str, process: str, out_json: str
) -> None:
    """Fit the aim 3 moderation models of one outcome × process family."""
    from process_outcome import aims

    pt = _slope_sample(config, patients, codes)
    covariates = covariate_terms(pt, measures_of(config, "covariate"))
    mods = {k: v["type"] for k, v in config["measures"]["moderators"].items()}
    res = aims.fit_aim3(pt, outcome, process, mods, covariates=covariates)
    summary = {
        "aim": "aim3",
        "outcome": outcome,
        "process": process,
        "fits": {m: f.to_dict() for m, f in zip(mods, res.fits, strict=True)},
        "moderation": res.moderation.to_dict("records"),
        "simple_slopes": res.simple_slopes.to_dict("records"),
    }
    io.write_json(summary, out_json)


def results_tables(
    config: Mapping[str, Any],
    aim1: list[str],
    aim2: list[str],
    aim3: list[str],
    truth: str | None,
    out: Mapping[str, str],
) -> None:
    """Gather the model summaries into the tidy results tables."""
    from process_outcome import tables

    s1 = [io.read_json(p) for p in aim1]
    s2 = [io.read_json(p) for p in aim2]
    s3 = [io.read_json(p) for p in aim3]
    results = {
        "aim1": tables.fixed_effects(s1),
        "aim2_tests": tables.slope_tests(s2),
        "aim2_fixed": tables.fixed_effects(s2),
        "aim2_slopes": tables.therapist_slopes(s2),
        "aim3": tables.moderation(s3),
        "aim3_simple": tables.simple_slopes(s3),
    }
    results["aim2_correlations"] = tables.slope_correlations(results["aim2_slopes"])
    for name, table in results.items():
        io.write_csv(tables.check_contract(table, name), out[name])
    fx1, tests, mod = results["aim1"], results["aim2_tests"], results["aim3"]
    problems = [s for s in s2 if s.get("nesting_violation")]
    for s in problems:
        log.warning("aim 2 %s/%s: REML logLik below its nested model", s["outcome"], s["process"])
    if truth:
        joint = {
            s["outcome"]: s["fit"]["variance_components"]["therapist|(Intercept)|"]
            for s in s1
            if s["process"] == "joint"
        }
        rec = tables.truth_recovery(
            pd.read_csv(truth, keep_default_na=False, na_values=[""]),
            fx1,
            tests,
            mod,
            joint,
            list(config["measures"]["processes"]),
        )
        io.write_csv(rec, out["truth"])


def make_figures(
    config: Mapping[str, Any],
    aim1: str,
    aim2_tests: str,
    aim2_slopes: str,
    aim3_simple: str,
    out: Mapping[str, str],
) -> None:
    """Draw the aim 1 forest plot, aim 2 caterpillar plot and aim 3 simple-slopes plot."""
    from process_outcome import figures
    from process_outcome.config import measures

    labels = {m.key: m.label for m in measures(config)}
    figures.save(
        figures.forest_plot(pd.read_csv(aim1), labels), out["forest_pdf"], out["forest_png"]
    )
    figures.save(
        figures.caterpillar_plot(pd.read_csv(aim2_slopes), pd.read_csv(aim2_tests), labels),
        out["caterpillar_pdf"],
        out["caterpillar_png"],
    )
    simple = pd.read_csv(aim3_simple)
    figures.save(figures.simple_slopes_plot(simple, labels), out["simple_pdf"], out["simple_png"])
