"""Publication figures (matplotlib, colour-blind-safe Okabe–Ito palette).

Every figure is written as PDF and as 300-dpi PNG with fixed metadata, so the same
results give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "LEVEL_NAMES",
    "LEVEL_POSITION",
    "OKABE_ITO",
    "PRINT_WIDTH",
    "SINGULAR_NOTE",
    "STYLE",
    "caterpillar_plot",
    "forest_plot",
    "panel_width",
    "save",
    "simple_slopes_plot",
    "singular_moderators",
]

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
# Binary moderators' levels 0/1 share the positions of -1 SD/+1 SD.
LEVEL_POSITION = {"-1 SD": 0, "0": 0, "mean": 1, "+1 SD": 2, "1": 2}
LEVEL_NAMES = ["−1 SD (binary: 0)", "Mean", "+1 SD (binary: 1)"]
# Inches: the text width of a US-letter page with 1-inch margins (APA 7). Figures are drawn
# at most this wide, so the manuscript prints them at 100% and their text keeps the size set
# here (journals ask for at least 8 pt at print size).
PRINT_WIDTH = 6.5
STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "process-outcome",
}


def panel_width(n_columns: int, preferred: float = 3.4) -> float:
    """Width in inches of one panel of a figure with ``n_columns`` panels side by side.

    Examples
    --------
    >>> panel_width(1), panel_width(2), round(panel_width(3), 3)
    (3.4, 3.25, 2.167)
    """
    return min(preferred, PRINT_WIDTH / n_columns)


def save(fig: Figure, pdf: str | Path, png: str | Path) -> None:
    """Save a figure as PDF and 300-dpi PNG without time stamps, then close it."""
    Path(pdf).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(
        pdf, metadata={"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
    )
    fig.savefig(png, dpi=300, metadata={"Software": None})
    plt.close(fig)


def forest_plot(aim1: pd.DataFrame, labels: Mapping[str, str]) -> Figure:
    """Aim 1 forest plot: within- and between-therapist effects with 95% CIs.

    Parameters
    ----------
    aim1 : DataFrame
        ``aim1_fixed_effects.csv``; the single-process models are plotted.
    labels : mapping
        Measure key -> label.
    """
    single = aim1[aim1["process"] != "joint"]
    outcomes = list(dict.fromkeys(single["outcome"]))
    processes = list(dict.fromkeys(single["process"]))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            1,
            len(outcomes),
            figsize=(
                panel_width(len(outcomes), 3.3) * len(outcomes),
                0.45 * 2 * len(processes) + 1.0,
            ),
            sharey=True,
            squeeze=False,
            layout="constrained",
        )
        for ax, outcome in zip(axes[0], outcomes, strict=True):
            ticks, names = [], []
            y = 0
            for p in processes:
                for part, colour, marker in (
                    ("within", OKABE_ITO[0], "o"),
                    ("between", OKABE_ITO[1], "s"),
                ):
                    row = single[
                        (single["outcome"] == outcome)
                        & (single["process"] == p)
                        & (single["term"] == f"{p}_{part}")
                    ]
                    if row.empty:
                        continue
                    r = row.iloc[0]
                    ax.errorbar(
                        r["estimate"],
                        y,
                        xerr=[[r["estimate"] - r["ci_low"]], [r["ci_high"] - r["estimate"]]],
                        fmt=marker,
                        color=colour,
                        capsize=2,
                        markersize=4,
                        label=f"{part.capitalize()} therapist",
                    )
                    ticks.append(y)
                    names.append(f"{labels.get(p, p)}\n({part})")
                    y -= 1
                y -= 0.5
            ax.axvline(0, color="0.5", linewidth=0.6, linestyle="--")
            ax.set_yticks(ticks, names)
            ax.set_title(labels.get(outcome, outcome))
            ax.set_xlabel("Fixed effect (95% CI)")
        handles, names = axes[0][0].get_legend_handles_labels()
        unique = dict(zip(names, handles, strict=False))
        fig.legend(
            unique.values(), unique.keys(), loc="outside lower center", ncols=2, frameon=False
        )
    return fig


def caterpillar_plot(
    slopes: pd.DataFrame,
    tests: pd.DataFrame,
    labels: Mapping[str, str],
    min_patients: int = 2,
) -> Figure:
    """Aim 2 caterpillar plot: each therapist's empirical-Bayes slope with a 95% interval.

    Therapists are ranked by slope and shown without codes; the line marks the average
    (fixed) slope. Only therapists with ``min_patients`` or more patients are drawn
    (the small-cell rule, ``privacy.min_patients``): the axis says how many of the
    model's therapists (``n_therapists`` of ``tests``) are shown.
    """
    # Every model gets a panel, also one whose therapists are all too small to show.
    pairs = list(
        dict.fromkeys(
            [
                *zip(tests["outcome"], tests["process"], strict=True),
                *zip(slopes["outcome"], slopes["process"], strict=True),
            ]
        )
    )
    slopes = slopes[slopes["n_patients"] >= min_patients]
    ncol = max(1, min(2, len(pairs)))
    nrow = max(1, int(np.ceil(len(pairs) / ncol)))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            nrow,
            ncol,
            figsize=(panel_width(ncol) * ncol, 2.4 * nrow),
            squeeze=False,
            layout="constrained",
        )
        for ax, (outcome, process) in zip(axes.flat, pairs, strict=False):
            d = slopes[(slopes["outcome"] == outcome) & (slopes["process"] == process)].sort_values(
                "slope"
            )
            x = np.arange(1, len(d) + 1)
            ax.errorbar(
                x,
                d["slope"],
                yerr=1.96 * d["se"],
                fmt="o",
                markersize=2.5,
                color=OKABE_ITO[0],
                ecolor=OKABE_ITO[4],
                elinewidth=0.8,
                capsize=0,
            )
            t = tests[(tests["outcome"] == outcome) & (tests["process"] == process)]
            if not t.empty:
                mid = (t["slope_low"].iloc[0] + t["slope_high"].iloc[0]) / 2
                ax.axhline(mid, color=OKABE_ITO[5], linewidth=0.8, label="Average slope")
            ax.axhline(0, color="0.5", linewidth=0.6, linestyle="--")
            # A singular fit's slopes are not identified: say so where they are shown.
            singular = not t.empty and bool(t["singular"].iloc[0])
            title = f"{labels.get(outcome, outcome)}\n{labels.get(process, process)}"
            ax.set_title(title + (" (singular fit)" if singular else ""))
            n_model = int(t["n_therapists"].iloc[0]) if not t.empty else len(d)
            shown = (
                "Therapists (ranked by slope)"
                if len(d) >= n_model
                else f"{len(d)} of {n_model} therapists, ranked by slope\n"
                f"(fewer than {min_patients} patients: not shown)"
            )
            ax.set_xlabel(shown)
            ax.set_ylabel("Within-therapist slope")
            ax.set_xticks([])
        for ax in list(axes.flat)[len(pairs) :]:
            ax.set_visible(False)
    return fig


SINGULAR_NOTE = "singular fit"


def singular_moderators(moderation: pd.DataFrame | None) -> set[tuple[str, str, str]]:
    """(outcome, process, moderator) of the Aim 3 models whose fit was singular.

    Examples
    --------
    >>> m = pd.DataFrame({"outcome": ["o"], "process": ["p"], "moderator": ["m"],
    ...                   "singular": [True]})
    >>> singular_moderators(m)
    {('o', 'p', 'm')}
    """
    if moderation is None or moderation.empty or "singular" not in moderation:
        return set()
    flag = moderation["singular"].astype(str).str.strip().str.lower().isin(["true", "1"])
    part = moderation[flag]
    return set(zip(part["outcome"], part["process"], part["moderator"], strict=True))


def simple_slopes_plot(
    simple: pd.DataFrame, labels: Mapping[str, str], moderation: pd.DataFrame | None = None
) -> Figure:
    """Aim 3 simple slopes: the within-therapist slope at each moderator value.

    One panel per outcome × process; for each moderator, the slope of the
    within-therapist process at the moderator's −1 SD, mean and +1 SD (continuous) or at
    each level (binary), with 95% CIs. Diverging slopes within a moderator show
    moderation. A moderator whose model's fit was singular (``singular`` in
    ``moderation``, the Aim 3 moderation table) is drawn with hollow markers and
    labelled "singular fit" at the right of its row, as Figure 2 labels its panels.
    """
    if simple.empty:
        # Without moderators (aim 3 not configured) the figure says so instead of failing.
        with plt.rc_context(STYLE):
            fig, ax = plt.subplots(figsize=(3.4, 1.0))
            ax.axis("off")
            # simple slopes are probed only for FDR-significant, non-singular interactions
            probed_none = moderation is not None and len(moderation) > 0
            message = (
                "No interaction was significant after the FDR adjustment\n"
                "in a non-singular fit: no simple slopes to probe."
                if probed_none
                else "No therapist moderators were configured."
            )
            ax.text(0.5, 0.5, message, ha="center", va="center")
        return fig
    families = list(dict.fromkeys(zip(simple["outcome"], simple["process"], strict=True)))
    moderators = list(dict.fromkeys(simple["moderator"]))
    ncol = min(2, len(families))
    nrow = int(np.ceil(len(families) / ncol))
    markers = ["v", "o", "^"]
    singular = singular_moderators(moderation)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            nrow,
            ncol,
            figsize=(panel_width(ncol) * ncol, (0.42 * len(moderators) + 0.9) * nrow),
            squeeze=False,
            sharey=True,
            layout="constrained",
        )
        for ax, (outcome, process) in zip(axes.flat, families, strict=False):
            fam = simple[(simple["outcome"] == outcome) & (simple["process"] == process)]
            for i, m in enumerate(moderators):
                d = fam[fam["moderator"] == m]
                hollow = (outcome, process, m) in singular
                for _, r in d.iterrows():
                    k = LEVEL_POSITION.get(str(r["level"]), 1)
                    colour = OKABE_ITO[k % len(OKABE_ITO)]
                    ax.errorbar(
                        r["estimate"],
                        -i + (k - 1) * 0.22,
                        xerr=[[r["estimate"] - r["ci_low"]], [r["ci_high"] - r["estimate"]]],
                        fmt=markers[k % 3],
                        color=colour,
                        markerfacecolor="white" if hollow else colour,
                        markersize=3,
                        capsize=1.5,
                        elinewidth=0.8,
                        label=LEVEL_NAMES[k],
                    )
                if hollow and not d.empty:
                    # Tick labels show only in the left column (shared y axis): the flag
                    # goes inside the panel, at the right end of the moderator's row.
                    ax.text(
                        0.99,
                        -i,
                        SINGULAR_NOTE,
                        transform=ax.get_yaxis_transform(),
                        ha="right",
                        va="center",
                        fontsize=8,
                        fontstyle="italic",
                        color="0.35",
                    )
            ax.axvline(0, color="0.5", linewidth=0.6, linestyle="--")
            ax.set_yticks(
                [-i for i in range(len(moderators))], [labels.get(m, m) for m in moderators]
            )
            ax.set_title(f"{labels.get(outcome, outcome)}\n{labels.get(process, process)}")
            ax.set_xlabel("Within-therapist slope (95% CI)")
        for ax in list(axes.flat)[len(families) :]:
            ax.set_visible(False)
        handles, names = axes.flat[0].get_legend_handles_labels()
        unique = dict(zip(names, handles, strict=False))
        fig.legend(
            unique.values(),
            unique.keys(),
            loc="outside lower center",
            ncols=len(unique),
            frameon=False,
        )
    return fig
