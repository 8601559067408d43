"""Unit tests of the reading helpers: encodings, delimiters, ids, codes, feasibility."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from process_outcome.analysis.feasibility import feasibility_problems
from process_outcome.config import Measure
from process_outcome.data.ids import id_key, near_matches
from process_outcome.data.numeric import check_sentinels, to_numeric
from process_outcome.data.reading import ReadOptions, decode_text, id_text, read_table, sniff_format
from process_outcome.errors import InputError


@pytest.mark.parametrize(
    ("raw", "text", "encoding"),
    [
        ("Søren;Zoë".encode(), "Søren;Zoë", "utf-8"),
        ("Søren;Zoë".encode("utf-8-sig"), "Søren;Zoë", "utf-8-sig"),
        ("Søren;Zoë".encode("utf-16"), "Søren;Zoë", "utf-16"),
        ("Søren;Zoë – €".encode("cp1252"), "Søren;Zoë – €", "cp1252"),
        # 0x81 is undefined in cp1252: Latin-1 is the last resort
        (b"a\x81b", "a\x81b", "latin-1"),
    ],
)
def test_decode_text_detects_the_encoding(raw, text, encoding):
    assert decode_text(raw, Path("x.csv"), "sessions", None) == (text, encoding)


@pytest.mark.parametrize(
    ("lines", "kind", "expected"),
    [
        (["a,b", "1,2.5", "2,3.5"], "csv", (",", ".")),
        (["a;b", "1;2,5", "2;3,5"], "csv", (";", ",")),
        (["a;b", "1;2.5", "2;3"], "csv", (";", ".")),
        (["a\tb", "1\t2,5"], "tsv", ("\t", ",")),
        (["a|b", "1|2", "3|4"], "tsv", ("|", ".")),
        (["a"], "tsv", ("\t", ".")),
    ],
)
def test_sniff_format(lines, kind, expected):
    assert sniff_format(lines, kind) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" T01 ", "T01"), ("12.0", "12"), (12.0, "12"), ("007", "007"), ("1.5", "1.5"), (3, "3")],
)
def test_id_text(value, expected):
    assert id_text(value) == expected


def test_near_matches_prefer_the_same_key():
    assert id_key("C-001") == id_key("c_0001") == "c1"
    assert near_matches(["C-001", "007", "Zed"], ["C-0001", "7", "Max"]) == {
        "C-001": "C-0001",
        "007": "7",
    }


def test_read_options_take_the_sheet_from_either_key():
    data = {"sheets": {"therapists": "Daten"}, "read": {"therapists": {"header_row": 2}}}
    opts = ReadOptions.from_config(data, "therapists")
    assert (opts.sheet, opts.header_row) == ("Daten", 2)
    assert ReadOptions.from_config({}, "sessions") == ReadOptions()


def test_read_table_keeps_decimal_comma_values(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes("id;wert\n007;3,25\n008;-1,5\n".encode("cp1252"))
    df = read_table(path, table="sessions", id_columns=("id",))
    assert df["id"].tolist() == ["007", "008"]
    assert df["wert"].tolist() == [3.25, -1.5]
    assert df.attrs["read"]["decimal"] == ","


def measure(key="y", rng=None, codes=(), kind="outcome") -> Measure:
    return Measure(key, key, key, kind, "sessions", range=rng, missing_codes=codes)


@pytest.mark.parametrize(
    ("values", "flagged"),
    [
        ([1, 5, 3, -99], True),
        ([0, 180, 99, 40], False),  # 99 is a real score on a 0-180 scale
        ([0, 40, 999], True),
        ([1, 7, -9], True),
        ([-3, 3, -9], False),  # -9 lies no farther below the z-scores than their spread
        ([5, 5, -99], False),  # one other value: no spread to judge by
    ],
)
def test_sentinel_codes(values, flagged):
    df = pd.DataFrame({"y": np.array(values, dtype=float)})
    if flagged:
        with pytest.raises(InputError, match="missing_codes"):
            check_sentinels(df, "sessions", [measure()])
    else:
        check_sentinels(df, "sessions", [measure()])
    # a declared range or code silences the check
    check_sentinels(df, "sessions", [measure(rng=(0.0, 1.0))])


def test_declared_codes_become_missing_and_inf_is_refused():
    df = pd.DataFrame({"y": ["1", "-99", " 2 "]})
    out = to_numeric(df, "sessions", {"y": "k"}, {"y": (-99.0,)})
    assert out["y"].isna().tolist() == [False, True, False]
    with pytest.raises(InputError, match="row 3"):
        to_numeric(pd.DataFrame({"y": [1.0, np.inf]}), "sessions", {"y": "k"})


def test_feasibility_passes_a_fittable_table(study42_config, reference_dir):
    table = pd.read_csv(reference_dir / "patients.csv", dtype={"patient": str, "therapist": str})
    assert feasibility_problems(table, study42_config) == []
    table["alliance_within"] = 0.0
    problems = feasibility_problems(table, study42_config)
    assert any("within-therapist" in p for p in problems)
