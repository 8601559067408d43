"""Broken inputs, tried as a new user would: each stops with one clear message.

Every case goes through the user's path (files on disk, a config as written, then
reading, validating and cleaning) and checks the message, not only the error type.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from process_outcome.analysis.feasibility import restrict_caseload
from process_outcome.config import validate_config
from process_outcome.errors import InputError
from process_outcome.steps.data import validate_data
from tests.conftest import SCHEMA, STUDY42_CONFIG

Case = Callable[[pd.DataFrame, pd.DataFrame, dict, Path], None]


def _write(tmp: Path, sessions: pd.DataFrame, therapists: pd.DataFrame, config: dict) -> dict:
    for name, df in (("sessions", sessions), ("therapists", therapists)):
        configured = Path(config["data"]["files"][name])
        if configured.parent != Path("."):
            continue  # a path the case made wrong on purpose
        target = tmp / configured
        config["data"]["files"][name] = str(target)
        if target.suffix == ".xlsx":
            df.to_excel(target, index=False)
        elif target.name == "empty.csv":
            df.head(0).to_csv(target, index=False)
        elif target.suffix == ".csv":
            df.to_csv(target, index=False)
        else:
            target.write_bytes(b"not a table")
    return config


def run_user_path(tmp: Path, sessions: pd.DataFrame, therapists: pd.DataFrame, config: dict):
    config = _write(tmp, sessions, therapists, config)
    valid = validate_config(config, SCHEMA)
    validate_data(valid, valid["data"]["files"]["sessions"], valid["data"]["files"]["therapists"])


def set_cell(df: pd.DataFrame, row: int, column: str, value) -> None:
    df[column] = df[column].astype(object)
    df.loc[row, column] = value


CASES: dict[str, tuple[Case, list[str]]] = {
    "missing file": (
        lambda s, t, c, tmp: c["data"]["files"].update(sessions="nowhere/sessions.csv"),
        ["does not exist", "data.files.sessions"],
    ),
    "unknown extension": (
        lambda s, t, c, tmp: c["data"]["files"].update(sessions="sessions.sas7bdat"),
        ["extension '.sas7bdat'", "Use one of"],
    ),
    "missing column": (
        lambda s, t, c, tmp: c["measures"]["outcomes"]["symptoms"].update(column="symptom"),
        ["column 'symptom'", "measures.outcomes.symptoms.column", "Did you mean 'symptoms'?"],
    ),
    "text in a numeric column": (
        lambda s, t, c, tmp: set_cell(s, 4, "expectation", "seven"),
        ["column 'expectation'", "row 6", "'seven'", "not numbers"],
    ),
    "ids differing in case or spaces": (
        lambda s, t, c, tmp: set_cell(s, 1, "patient_id", "p0001"),
        ["differ only in upper/lower case", "'P0001'", "'p0001'"],
    ),
    "patient under two therapists": (
        lambda s, t, c, tmp: set_cell(s, 2, "therapist_id", "T007"),
        ["patient P0001: therapists T000, T007", "rows 2, 3, 4"],
    ),
    "therapist missing from therapists table": (
        lambda s, t, c, tmp: t.__setitem__(
            "therapist_id", t["therapist_id"].replace("T004", "T999")
        ),
        ["'T004'", "not in the therapists table", "Add a row for each therapist"],
    ),
    "constant moderator": (
        lambda s, t, c, tmp: t.__setitem__("experience", 10.0),
        ["column 'experience'", "same value", "measures.moderators.experience"],
    ),
    "moderator all missing": (
        lambda s, t, c, tmp: t.__setitem__("experience", float("nan")),
        ["column 'experience'", "no sample therapist has a value"],
    ),
    "binary moderator with three values": (
        lambda s, t, c, tmp: set_cell(t, 3, "cbt", 2),
        ["column 'cbt'", "coded 0/1", "holds 0, 1, 2"],
    ),
    "measure with no values": (
        lambda s, t, c, tmp: s.__setitem__("alliance", float("nan")),
        ["column 'alliance'", "no row has a value"],
    ),
    "empty table": (
        lambda s, t, c, tmp: c["data"]["files"].update(therapists="empty.csv"),
        ["therapists table", "empty.csv", "no data rows"],
    ),
    "measure pointing at a column of the wrong table": (
        lambda s, t, c, tmp: c["measures"]["processes"]["alliance"].update(column="self_alliance"),
        ["column 'self_alliance'", "It is a column of the therapists table"],
    ),
    "misspelled config key": (
        lambda s, t, c, tmp: c["measures"]["moderators"]["cbt"].update(tpye="binary"),
        ["unknown config key 'tpye'", "Did you mean 'type'?"],
    ),
    "misspelled top-level key": (
        lambda s, t, c, tmp: c.update(analysys={}),
        ["unknown config key 'analysys'", "Did you mean 'analysis'?"],
    ),
    "unreadable Excel sheet": (
        lambda s, t, c, tmp: (
            c["data"]["files"].update(therapists="therapists.xlsx"),
            c["data"].update(sheets={"therapists": "Therapists"}),
        ),
        ["has no sheet 'Therapists'", "'Sheet1'", "data.sheets"],
    ),
}


def _conflict(s, t, c, tmp):
    row = s.iloc[10].copy()
    row["functioning"] = row["functioning"] + 0.5
    s.loc[len(s)] = row


CASES["conflicting duplicates"] = (
    _conflict,
    ["more than one row with different values", "differ in functioning"],
)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_stops_with_a_clear_message(case, reference_dir, tmp_path):
    mutate, fragments = CASES[case]
    sessions = pd.read_csv(
        reference_dir / "sessions.csv", dtype={"patient_id": str, "therapist_id": str}
    )
    therapists = pd.read_csv(reference_dir / "therapists.csv", dtype={"therapist_id": str})
    config = copy.deepcopy(STUDY42_CONFIG)
    mutate(sessions, therapists, config, tmp_path)
    with pytest.raises(InputError) as err:
        run_user_path(tmp_path, sessions, therapists, config)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, f"{case}: {fragment!r} not in {message!r}"


def test_fewer_therapists_than_a_slope_model_needs():
    table = pd.DataFrame({"therapist": ["A", "A", "B", "C"], "x": [1, 2, 3, 4]})
    with pytest.raises(InputError, match="at least 3 therapists"):
        restrict_caseload(table, 2)
    assert len(restrict_caseload(table, 1)) == 4


# --------------------------------------------------------------------------- property test

cells = st.one_of(
    st.none(),
    st.integers(-5, 12),
    st.floats(allow_nan=True, allow_infinity=False, width=32),
    st.sampled_from(["", " ", "x", "P1", "T1", "1,5", "NA", "T1 ", "t1"]),
)
COLUMNS = [
    "patient_id",
    "therapist_id",
    "session",
    "symptoms",
    "functioning",
    "alliance",
    "expectation",
]


# derandomize: the same examples on every run, so CI is reproducible; explore more
# locally with --hypothesis-seed and a larger max_examples.
@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(st.fixed_dictionaries({c: cells for c in COLUMNS}), min_size=0, max_size=12),
    drop=st.sets(st.sampled_from(COLUMNS), max_size=2),
)
def test_random_malformed_tables_succeed_or_raise_input_error(tmp_path, rows, drop):
    sessions = pd.DataFrame(rows, columns=COLUMNS).drop(columns=sorted(drop))
    therapists = pd.DataFrame(
        {"therapist_id": ["T1", "T2"], "self_alliance": [1.0, 2.0], "self_expectation": [3.0, 1.0],
         "cbt": [0, 1], "experience": [2.0, 9.0]}
    )  # fmt: skip
    config = copy.deepcopy(STUDY42_CONFIG)
    try:
        run_user_path(tmp_path, sessions, therapists, config)
    except InputError as exc:
        assert str(exc)
