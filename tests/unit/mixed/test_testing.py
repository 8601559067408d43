"""Multiple-testing adjustment against pingouin's and R's Benjamini-Hochberg."""

from __future__ import annotations

import numpy as np
import pingouin as pg

from process_outcome.mixed.testing import fdr_bh


def test_fdr_bh_matches_pingouin_on_random_families():
    rng = np.random.default_rng(7)
    for size in (1, 2, 6, 25):
        p = rng.uniform(0, 0.2, size) ** 2
        _, expected = pg.multicomp(p, method="fdr_bh")
        assert np.allclose(fdr_bh(p), expected, rtol=0, atol=1e-15)


def test_fdr_bh_matches_r_p_adjust():
    # R: p.adjust(c(0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205), "BH")
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]
    r = [0.008, 0.032, 0.0672, 0.0672, 0.0672, 0.08, 0.08457143, 0.205]
    assert np.allclose(fdr_bh(p), r, atol=5e-9)


def test_missing_p_values_do_not_count_towards_the_family():
    got = fdr_bh([0.01, np.nan, 0.04])
    assert np.isnan(got[1]) and np.allclose(got[[0, 2]], [0.02, 0.04])
