"""Issue 20 pieces that a lab file cannot show: a full disk, a thousand therapists in the
validation summary, and the vectorised helpers checked against their one-by-one forms."""

from __future__ import annotations

import errno
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from process_outcome.data import ids, reading
from process_outcome.data.cleaning import EXTREMES, LISTED_THERAPISTS, caseload_summary
from process_outcome.data.exclusions import exclusion_row, exclusion_rows, exclusion_table
from process_outcome.errors import InputError
from process_outcome.steps.data import OUTPUT_BYTES_FIXED, check_free_space


def test_free_space_below_the_expected_output_stops_before_the_work(tmp_path):
    data = tmp_path / "sessions.csv"
    data.write_bytes(b"x" * 1000)
    with pytest.raises(InputError) as err:
        check_free_space([data], tmp_path / "results", free=OUTPUT_BYTES_FIXED // 2)
    message = str(err.value)
    assert "MB free" in message and "Free some space" in message
    check_free_space([data], tmp_path / "results", free=10 * OUTPUT_BYTES_FIXED)


STEP = """
import errno, sys
from process_outcome.steps.run import run

def tables():
    raise OSError(errno.ENOSPC, "No space left on device", "results/tables/aim1.csv")

run(tables, sys.argv[1])
"""


def test_a_full_disk_in_a_rule_body_is_one_line_without_traceback(tmp_path):
    # As Snakemake runs a rule's script: its own process, the wrapper of steps/run.py.
    proc = subprocess.run(
        [sys.executable, "-c", STEP, str(tmp_path / "rule.log")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [
        "ERROR: no space left on the disk while tables wrote results/tables/aim1.csv: free "
        "some space and run snakemake again (the finished steps are kept)."
    ]


def test_other_os_errors_are_not_taken_for_a_full_disk():
    from process_outcome.steps.run import DISK_ERRORS

    assert errno.ENOSPC in DISK_ERRORS and errno.EACCES not in DISK_ERRORS


def caseloads(n_therapists: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 30, n_therapists)
    therapist = np.repeat([f"T{i:04d}" for i in range(n_therapists)], sizes)
    patient = [f"P{i}" for i in range(len(therapist))]
    return pd.DataFrame({"therapist": therapist, "patient": patient, "session": 1})


@pytest.mark.parametrize("n", [5, LISTED_THERAPISTS, LISTED_THERAPISTS + 1, 1500])
def test_the_caseload_summary_stays_short(n):
    s = caseloads(n)
    lines = caseload_summary(s)
    per = s.groupby("therapist")["patient"].nunique()
    if n <= LISTED_THERAPISTS:
        assert len(lines) == n + 2
        return
    assert len(lines) == 5 + 2 * EXTREMES
    assert f"{n} therapists" in lines[0]
    assert f"min {per.min()}" in lines[1] and f"max {per.max()}" in lines[1]
    assert f"{int((per == 1).sum())} therapist(s) with one patient" in lines[1]
    smallest = per.sort_values(kind="mergesort").index[0]
    assert any(line.split()[0] == smallest for line in lines[5:])


@pytest.mark.parametrize("dtype", ["string", object])
def test_isin_agrees_with_pandas(dtype):
    rng = np.random.default_rng(1)
    values = pd.Series([f"P{i}" for i in rng.integers(0, 500, 3000)], dtype=dtype)
    values[::97] = None
    wanted = {f"P{i}" for i in range(0, 500, 3)}
    assert (ids.isin(values, wanted) == values.isin(wanted).to_numpy()).all()
    assert ids.distinct(values) == set(values.dropna())


def test_id_texts_agrees_with_id_text():
    raw = pd.Series([" Q7 ", "12.0", 12.0, "007", "-3.00", None, "A.0", 5], dtype=object)
    expected = [reading.id_text(v) if v is not None else None for v in raw]
    got = reading.id_texts(raw).astype(object).where(raw.notna(), None).tolist()
    assert got == expected
    text = pd.Series(["  7", "8.0", None], dtype="string")
    assert reading.id_texts(text).tolist()[:2] == ["7", "8"]


def test_exclusion_blocks_give_the_table_of_single_rows():
    rows = [
        exclusion_row("4_ranges", "out", "sessions", row=r, patient=p, value=v)
        for r, p, v in [(3, "a", 9.0), (5, "b", 0.0)]
    ]
    block = exclusion_rows(
        "4_ranges", "out", "sessions", row=np.array([3, 5]), patient=["a", "b"], value=[9.0, 0.0]
    )
    one_by_one = exclusion_table(rows)
    at_once = exclusion_table([block])
    assert one_by_one.to_csv(index=False) == at_once.to_csv(index=False)
    mixed = exclusion_table([rows[0], block, rows[1]])
    assert mixed["row"].tolist() == [3, 3, 5, 5]
