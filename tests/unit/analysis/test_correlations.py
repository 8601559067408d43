"""Patient-level correlations: unrounded 95% CIs, checked against SciPy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from process_outcome.analysis.descriptives import correlations


def test_correlation_cis_are_unrounded_and_equal_scipy():
    rng = np.random.default_rng(4)
    d = pd.DataFrame(rng.normal(size=(37, 3)), columns=["a", "b", "c"])
    d["b"] += 0.4 * d["a"]
    table = correlations(d, ["a", "b", "c"])
    assert len(table) == 3
    for row in table.itertuples():
        res = stats.pearsonr(d[row.x], d[row.y])
        ci = res.confidence_interval(0.95)
        assert row.r == pytest.approx(res.statistic, abs=1e-12)
        assert row.ci_low == pytest.approx(ci.low, abs=1e-9)
        assert row.ci_high == pytest.approx(ci.high, abs=1e-9)
        assert row.p == pytest.approx(res.pvalue, rel=1e-6)
    assert (table["ci_low"].round(2) != table["ci_low"]).all()
