"""Figures print at their drawn size with text of at least 8 pt (issue 17).

The manuscript places a figure at its drawn width, scaled down only when it is wider than
the text; so a figure no wider than the text keeps the font sizes it was drawn with.
"""

from __future__ import annotations

import itertools

import matplotlib
import pandas as pd
import pytest

from process_outcome.analysis import figures

matplotlib.use("Agg")


def _smallest_text(fig) -> float:
    fig.canvas.draw()
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(matplotlib.text.Text)
        if t.get_visible() and t.get_text().strip()
    ]
    assert sizes, "the figure has no text"
    return min(sizes)


def _aim1(outcomes: list[str], processes: list[str]) -> pd.DataFrame:
    rows = [
        {"outcome": o, "process": p, "term": f"{p}_{part}"}
        | {"estimate": -0.2, "ci_low": -0.4, "ci_high": 0.0}
        for o, p, part in itertools.product(outcomes, processes, ("within", "between"))
    ]
    return pd.DataFrame(rows)


def _slopes(outcomes: list[str], process: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    slopes = pd.DataFrame(
        [
            {"outcome": o, "process": process, "therapist": f"T{i:02d}"}
            | {"slope": 0.1 * i - 0.5, "se": 0.1, "n_patients": 3}
            for o in outcomes
            for i in range(10)
        ]
    )
    tests = pd.DataFrame(
        {"outcome": outcomes, "process": process, "slope_low": 0.0, "slope_high": 0.5}
        | {"singular": False, "n_therapists": 10}
    )
    return slopes, tests


@pytest.mark.parametrize("n_outcomes", [1, 2, 3])
def test_figures_fit_the_text_width_with_text_of_8_pt(n_outcomes: int):
    outcomes = [f"outcome{i}" for i in range(n_outcomes)]
    drawn = [
        figures.forest_plot(_aim1(outcomes, ["alliance", "expectation"]), {}),
        figures.caterpillar_plot(*_slopes(outcomes, "alliance"), {}),
    ]
    for fig in drawn:
        assert fig.get_figwidth() <= figures.PRINT_WIDTH + 1e-9
        assert _smallest_text(fig) >= 8
