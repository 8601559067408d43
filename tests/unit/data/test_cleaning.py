"""Cleaning (spec section 2), the patient-level table (section 3) and user mistakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from process_outcome.config import measures_of
from process_outcome.data.analysis_table import patient_table
from process_outcome.data.cleaning import clean
from process_outcome.data.reading import read_table
from process_outcome.errors import InputError


def load(path: Path, table: str, ids: tuple[str, ...]) -> pd.DataFrame:
    return read_table(path, table=table, id_columns=ids)


def build(sessions: pd.DataFrame, therapists: pd.DataFrame, config: dict) -> pd.DataFrame:
    data = clean(sessions, therapists, config)
    return patient_table(
        data.sessions,
        data.therapists,
        measures_of(config, "outcome"),
        measures_of(config, "process"),
        measures_of(config, "moderator"),
    )


@pytest.fixture
def study42(reference_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    s = load(reference_dir / "sessions.csv", "sessions", ("patient_id", "therapist_id"))
    t = load(reference_dir / "therapists.csv", "therapists", ("therapist_id",))
    return s, t


def test_study42_patient_table_matches_reference(study42, study42_config, reference_dir):
    ours = build(*study42, study42_config)
    ref = pd.read_csv(reference_dir / "patients.csv", dtype={"patient": str, "therapist": str})
    assert sorted(ours.columns) == sorted(ref.columns)
    assert ours["patient"].tolist() == ref["patient"].tolist()
    assert ours["therapist"].tolist() == ref["therapist"].tolist()
    for col in ref.columns.drop(["patient", "therapist"]):
        np.testing.assert_allclose(
            ours[col].to_numpy(float), ref[col].to_numpy(float), atol=1e-9, rtol=0, err_msg=col
        )


def test_study42_exclusions_and_flow(study42, study42_config):
    data = clean(*study42, study42_config)
    reasons = data.exclusions["reason"].tolist()
    assert reasons.count("exact duplicate of an earlier row") == 2
    ranges = data.exclusions[data.exclusions["step"] == "4_ranges"]
    assert sorted(ranges["value"]) == [0.0, 99.0]
    assert set(ranges["column"]) == {"alliance", "expectation"}
    assert data.flow[0]["step"] == "input"
    assert data.flow[1]["rows"] == data.flow[0]["rows"] - 2
    assert data.flow[-1]["patients"] == 177


def test_out_of_range_error_mode_names_rows_and_values(study42, study42_config):
    study42_config["cleaning"]["out_of_range"] = "error"
    with pytest.raises(InputError) as err:
        clean(*study42, study42_config)
    msg = str(err.value)
    assert "column 'alliance'" in msg and "range 1 to 5" in msg and "values 0" in msg
    assert "cleaning.out_of_range: missing" in msg


def test_conflicting_duplicates_list_each_pair(study42, study42_config):
    s, t = study42
    extra = s.iloc[[5]].copy()
    extra["symptoms"] = extra["symptoms"] + 1
    s2 = pd.concat([s, extra], ignore_index=True)
    with pytest.raises(InputError) as err:
        clean(s2, t, study42_config)
    msg = str(err.value)
    row = s.iloc[5]
    assert f"patient {row['patient_id']} session {int(row['session'])}" in msg
    assert "rows 7, " in msg and "differ in symptoms" in msg


def test_patient_under_two_therapists(study42, study42_config):
    s, t = study42
    s = s.copy()
    pid = s.loc[0, "patient_id"]
    s.loc[1, "therapist_id"] = "T001"
    with pytest.raises(InputError) as err:
        clean(s, t, study42_config)
    msg = str(err.value)
    assert f"patient {pid}: therapists T000, T001" in msg
    assert "more than one therapist" in msg


def test_therapist_missing_from_therapists_table(study42, study42_config):
    s, t = study42
    with pytest.raises(InputError) as err:
        clean(s, t[t["therapist_id"] != "T003"], study42_config)
    assert "'T003'" in str(err.value) and "not in the therapists table" in str(err.value)


def test_sample_rule_excludes_patient_with_one_outcome_assessment(study42, study42_config):
    s, t = study42
    pid = s["patient_id"].iloc[0]
    s = s[(s["patient_id"] != pid) | (s["session"] == 1)]
    data = clean(s, t, study42_config)
    assert pid not in set(data.sessions["patient"])
    row = data.exclusions[data.exclusions["patient"] == pid]
    assert "fewer than 2 non-missing symptoms assessments" in row["reason"].iloc[0]


def test_min_outcome_assessments_is_configurable(study42, study42_config):
    study42_config["cleaning"]["min_outcome_assessments"] = 5
    data = clean(*study42, study42_config)
    counts = data.sessions.groupby("patient")["symptoms"].count()
    assert counts.min() >= 5


def test_missing_column_suggests_nearest(study42, study42_config):
    s, t = study42
    s = s.rename(columns={"alliance": "allaince"})
    with pytest.raises(InputError) as err:
        clean(s, t, study42_config)
    msg = str(err.value)
    assert "column 'alliance' (set by measures.processes.alliance.column) is missing" in msg
    assert "Did you mean 'allaince'?" in msg


def test_column_in_wrong_table_is_named(study42, study42_config):
    s, t = study42
    study42_config["measures"]["processes"]["alliance"]["column"] = "self_alliance"
    with pytest.raises(InputError) as err:
        clean(s, t, study42_config)
    assert "It is a column of the therapists table" in str(err.value)


def test_text_in_numeric_column_lists_rows_and_values(study42, study42_config):
    s, t = study42
    s = s.copy()
    s["alliance"] = s["alliance"].astype(object)
    s.loc[3, "alliance"] = "n/a"
    s.loc[10, "alliance"] = "4,5"
    with pytest.raises(InputError) as err:
        clean(s, t, study42_config)
    msg = str(err.value)
    assert "column 'alliance'" in msg and "rows 5, 12" in msg and "'n/a', '4,5'" in msg


def test_ids_differing_in_case_or_space(study42, study42_config):
    s, t = study42
    s = s.copy()
    s.loc[s["therapist_id"] == "T001", "therapist_id"] = "t001 "
    t = t.copy()
    t.loc[0, "therapist_id"] = "t001 "
    t2 = pd.concat([t, t.iloc[[1]]]).reset_index(drop=True)
    with pytest.raises(InputError) as err:
        clean(s, t2, study42_config)
    assert "differ only in upper/lower case" in str(err.value)


def test_empty_table(tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_text("patient_id,therapist_id,session\n")
    with pytest.raises(InputError) as err:
        read_table(path, table="sessions")
    assert "has no data rows" in str(err.value) and str(path) in str(err.value)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_table(tmp_path / "nope.csv", table="sessions")
    odd = tmp_path / "sessions.json"
    odd.write_text("{}")
    with pytest.raises(InputError, match=r"extension '\.json'"):
        read_table(odd, table="sessions")


def test_constant_moderator(study42, study42_config):
    s, t = study42
    t = t.assign(cbt=1)
    with pytest.raises(InputError, match="every sample therapist has the same value"):
        clean(s, t, study42_config)


def test_binary_moderator_with_three_values(study42, study42_config):
    s, t = study42
    t = t.copy()
    t.loc[0, "cbt"] = 2
    with pytest.raises(InputError, match="must be coded 0/1"):
        clean(s, t, study42_config)


@pytest.mark.parametrize("suffix", [".xlsx", ".sav", ".dta", ".parquet", ".tsv"])
def test_every_format_gives_the_same_patient_table(study42, study42_config, tmp_path, suffix):
    s, t = study42
    paths = {}
    for name, df in {"sessions": s, "therapists": t}.items():
        path = tmp_path / f"{name}{suffix}"
        out = df.copy()
        if suffix == ".xlsx":
            out.to_excel(path, index=False)
        elif suffix == ".sav":
            import pyreadstat

            pyreadstat.write_sav(out, path)
        elif suffix == ".dta":
            out.to_stata(path, write_index=False)
        elif suffix == ".parquet":
            out.to_parquet(path, index=False)
        else:
            out.to_csv(path, sep="\t", index=False)
        paths[name] = path
    s2 = load(paths["sessions"], "sessions", ("patient_id", "therapist_id"))
    t2 = load(paths["therapists"], "therapists", ("therapist_id",))
    pd.testing.assert_frame_equal(build(s2, t2, study42_config), build(s, t, study42_config))
