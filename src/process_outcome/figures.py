"""Publication figures (matplotlib, colour-blind-safe Okabe–Ito palette).

Every figure is written as PDF and as 300-dpi PNG with fixed metadata, so the same
results give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "process-outcome",
}


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
            figsize=(3.3 * len(outcomes), 0.45 * 2 * len(processes) + 1.0),
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
    slopes: pd.DataFrame, tests: pd.DataFrame, labels: Mapping[str, str]
) -> Figure:
    """Aim 2 caterpillar plot: each therapist's empirical-Bayes slope with a 95% interval.

    Therapists are ranked by slope and shown without codes; the line marks the average
    (fixed) slope.
    """
    pairs = list(dict.fromkeys(zip(slopes["outcome"], slopes["process"], strict=True)))
    ncol = min(2, len(pairs))
    nrow = int(np.ceil(len(pairs) / ncol))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            nrow, ncol, figsize=(3.4 * ncol, 2.4 * nrow), squeeze=False, layout="constrained"
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
            ax.set_title(f"{labels.get(outcome, outcome)}: {labels.get(process, process)}")
            ax.set_xlabel("Therapists (ranked by slope)")
            ax.set_ylabel("Within-therapist slope")
            ax.set_xticks([])
        for ax in list(axes.flat)[len(pairs) :]:
            ax.set_visible(False)
    return fig


def simple_slopes_plot(simple: pd.DataFrame, labels: Mapping[str, str]) -> Figure:
    """Aim 3 simple slopes: predicted change in outcome over the within-therapist process.

    One panel per outcome × process (rows) and moderator (columns); lines show the
    within-therapist slope at the moderator's −1 SD, mean and +1 SD (or each level of
    a binary moderator), drawn through the origin, so they differ only in slope.
    """
    if simple.empty:
        # Without moderators (aim 3 not configured) the figure says so instead of failing.
        with plt.rc_context(STYLE):
            fig, ax = plt.subplots(figsize=(3.4, 1.0))
            ax.axis("off")
            ax.text(0.5, 0.5, "No therapist moderators were configured.", ha="center", va="center")
        return fig
    families = list(dict.fromkeys(zip(simple["outcome"], simple["process"], strict=True)))
    moderators = list(dict.fromkeys(simple["moderator"]))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(families),
            len(moderators),
            figsize=(1.9 * len(moderators) + 0.6, 1.8 * len(families) + 0.6),
            squeeze=False,
            sharex=True,
            layout="constrained",
        )
        x = np.linspace(-1, 1, 3)
        for i, (outcome, process) in enumerate(families):
            for j, m in enumerate(moderators):
                ax = axes[i][j]
                d = simple[
                    (simple["outcome"] == outcome)
                    & (simple["process"] == process)
                    & (simple["moderator"] == m)
                ]
                for k, r in enumerate(d.itertuples(index=False)):
                    ax.plot(
                        x,
                        r.estimate * x,
                        color=OKABE_ITO[k % len(OKABE_ITO)],
                        label=str(r.level),
                        linestyle=["-", "--", ":"][k % 3],
                    )
                ax.axhline(0, color="0.8", linewidth=0.5)
                if i == 0:
                    ax.set_title(labels.get(m, m), fontsize=7)
                if j == 0:
                    ax.set_ylabel(
                        f"{labels.get(outcome, outcome)}\n({labels.get(process, process)})",
                        fontsize=7,
                    )
                if i == len(families) - 1:
                    ax.set_xlabel("Process (within), deviation")
                ax.legend(frameon=False, fontsize=5.5, loc="best")
    return fig
