"""Therapist codes: numbered in an order that tells nothing about the real ids, the same
for the same data, and never equal to an id."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from process_outcome.data.pseudonyms import code_key, pseudonymous_codes


def _roster(rng: np.random.Generator, n: int) -> list[str]:
    names = ["Anna", "Ben", "Carla", "Dev", "Emre", "Fay", "Gus", "Hana", "Ivo", "Jun"]
    return sorted({f"{rng.choice(names)}{rng.integers(10, 99)}" for _ in range(n)})


def test_codes_do_not_follow_the_sorted_ids():
    """Over many rosters and data sets, the rank correlation between an id's place in
    sorted order and its code's number is centred on zero (sorted order gives 1)."""
    rng = np.random.default_rng(20)
    taus = []
    for _ in range(200):
        ids = _roster(rng, 12)
        data = {"sessions": pd.DataFrame({"t": ids, "y": rng.normal(size=len(ids))})}
        codes = pseudonymous_codes(ids, key=code_key(data))
        number = dict(zip(codes["therapist"], codes["code"].str[1:].astype(int), strict=True))
        taus.append(stats.kendalltau(range(len(ids)), [number[i] for i in ids])[0])
    taus = np.asarray(taus)
    # Monte Carlo SE of the mean of 200 taus of 12 ranks: about 0.014.
    assert abs(taus.mean()) < 4 * taus.std(ddof=1) / np.sqrt(len(taus))
    assert (taus > 0.99).mean() < 0.01


def test_same_data_same_codes_other_data_other_order():
    ids = [f"T{i:03d}" for i in range(30)]
    data = {"sessions": pd.DataFrame({"t": ids, "y": np.arange(30.0)})}
    first = pseudonymous_codes(ids, key=code_key(data))
    again = pseudonymous_codes(list(reversed(ids)), key=code_key({"sessions": data["sessions"]}))
    pd.testing.assert_frame_equal(first, again)
    edited = {"sessions": data["sessions"].assign(y=np.arange(30.0) + 0.5)}
    other = pseudonymous_codes(ids, key=code_key(edited))
    assert first["therapist"].tolist() != other["therapist"].tolist()
    assert sorted(first["code"]) == sorted(other["code"])  # the same codes, reassigned
    assert not set(first["code"]) & set(ids)  # ids like T001 rule out the prefix T
