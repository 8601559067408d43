"""Repeated-measures correlation by within-patient centring against pingouin.rm_corr."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from process_outcome.analysis.descriptives import rm_corr


def _sessions(seed: int, n_subjects: int, slope: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        k = int(rng.integers(2, 8))
        level = rng.normal(0, 2)
        x = rng.normal(level, 1, k)
        y = 3 * level + slope * x + rng.normal(0, 1, k)
        rows += [{"subject": f"P{s:03d}", "x": xi, "y": yi} for xi, yi in zip(x, y, strict=True)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("seed", "n_subjects", "slope"), [(1, 12, 0.4), (2, 40, -0.2), (3, 7, 0.0)]
)
def test_rm_corr_matches_pingouin(seed, n_subjects, slope):
    d = _sessions(seed, n_subjects, slope)
    ours = rm_corr(d, "x", "y", "subject")
    ref = pg.rm_corr(data=d, x="x", y="y", subject="subject")
    assert ours["r"] == pytest.approx(float(ref["r"].iloc[0]), abs=1e-12)
    assert ours["dof"] == int(ref["dof"].iloc[0])
    assert ours["p"] == pytest.approx(float(ref["pval"].iloc[0]), rel=1e-9)
    ci = ref["CI95"].iloc[0] if "CI95" in ref else ref["CI95%"].iloc[0]
    # pingouin rounds its CI to 2 decimals; ours is unrounded
    assert ours["ci_low"] == pytest.approx(ci[0], abs=0.005 + 1e-12)
    assert ours["ci_high"] == pytest.approx(ci[1], abs=0.005 + 1e-12)
    z, se = np.arctanh(ours["r"]), 1 / np.sqrt(ours["dof"] + 2 - 3)
    assert ours["ci_low"] == pytest.approx(np.tanh(z - 1.959963984540054 * se), abs=1e-12)


def test_rm_corr_pingouin_example_data():
    d = pg.read_dataset("rm_corr")
    ours = rm_corr(d, "pH", "PacO2", "Subject")
    ref = pg.rm_corr(data=d, x="pH", y="PacO2", subject="Subject")
    assert ours["r"] == pytest.approx(float(ref["r"].iloc[0]), abs=1e-12)
    assert ours["p"] == pytest.approx(float(ref["pval"].iloc[0]), rel=1e-9)
    assert ours["dof"] == 38


def test_rm_corr_memory_is_linear_in_rows():
    # 20,000 subjects x 6 rows: pingouin's dense dummy design would need ~19 GB
    rng = np.random.default_rng(0)
    subject = np.repeat(np.arange(20_000), 6)
    x = rng.normal(size=subject.size)
    d = pd.DataFrame({"s": subject, "x": x, "y": 0.3 * x + rng.normal(size=subject.size)})
    res = rm_corr(d, "x", "y", "s")
    assert res["dof"] == 120_000 - 20_000 - 1
    assert 0.2 < res["r"] < 0.4
