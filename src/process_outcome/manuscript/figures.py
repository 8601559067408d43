"""Figure blocks and their captions."""

from __future__ import annotations

import struct
from collections.abc import Mapping

from process_outcome.document import Figure, it, lower_first, rich
from process_outcome.manuscript.inputs import Design
from process_outcome.manuscript.quoting import beneficial_sign

__all__ = ["direction_note", "figures", "png_width_inches"]


def png_width_inches(png: bytes, dpi: float = 300.0) -> float:
    """Width of a PNG at ``dpi`` (the workflow saves figures at 300 dpi)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG image")
    width = struct.unpack(">I", png[16:20])[0]
    return width / dpi


def direction_note(design: Design) -> str:
    """Caption sentence saying which slope sign is beneficial for each outcome."""
    signs = {beneficial_sign(o) for o in design.outcomes}
    if len(signs) == 1:
        state = design.outcomes[0].higher_is
        return (
            f"Higher scores are {state} on every outcome, so {signs.pop()} values mean that "
            "higher process ratings went with better outcomes."
        )
    parts = [f"{beneficial_sign(o)} for {lower_first(o.label)}" for o in design.outcomes]
    return "Values in the beneficial direction are " + "; ".join(parts) + "."


def figures(design: Design, images: Mapping[str, bytes]) -> dict[str, Figure]:
    """Figures 1–3 with APA captions, keyed by their registered names (Figure 3 only when
    moderators are configured)."""
    out = {}
    note = rich(
        "Fixed effects (points) with 95% CIs (bars; ",
        it("df"),
        " as in the Method) of each process from its Aim 1 model, controlling for "
        "baseline (within: the "
        "model with that slope varying across therapists, or the random-intercept model "
        "where its variance was estimated at zero). "
        "Within = patient-level (within-therapist) association; between = therapist-level "
        "association. The dashed line marks zero. ",
        direction_note(design),
    )
    key = "figure1_aim1_forest"
    out[key] = Figure(
        key,
        "1",
        "Within- and Between-Therapist Associations of Each Process With "
        "Post-Treatment Outcomes (Aim 1)",
        note,
        images[key],
        png_width_inches(images[key]),
    )
    note = rich(
        "Each point is one therapist's empirical-Bayes within-therapist slope (average slope "
        "plus the therapist's predicted deviation) with a 95% interval (±1.96 conditional "
        "SE); therapists are ranked by slope and shown without codes; therapists with too "
        "few patients to be shown alone are left out. The solid line marks "
        "the average slope, the dashed line zero. Each panel has its own vertical scale, "
        "fitted to its slopes, so compare slopes across panels by their values, not their "
        "heights. A panel title ending in \u201csingular fit\u201d marks a model whose "
        "therapist slopes are not identified apart from the intercepts. ",
        direction_note(design),
    )
    key = "figure2_aim2_caterpillar"
    out[key] = Figure(
        key,
        "2",
        "Therapists' Within-Therapist Slopes (Aim 2)",
        note,
        images[key],
        png_width_inches(images[key]),
    )
    if design.moderators:
        note = rich(
            "Within-therapist slope of each process (points, with 95% CIs) at 1 SD below "
            "the mean, at the mean and at 1 SD above the mean of each continuous therapist "
            "characteristic (SD over therapists), or at 0 and 1 for binary ones, for the "
            "interactions significant after the FDR adjustment in non-singular fits (if "
            "none, the figure says so). Slopes "
            "that diverge within a row indicate moderation; "
            "@tbl:table4_moderation gives the tests. Hollow "
            "markers and the label \u201csingular fit\u201d identify a characteristic whose "
            "model's fit was singular, as in @tbl:table4_moderation.",
        )
        key = "figure3_aim3_simple_slopes"
        out[key] = Figure(
            key,
            "3",
            "Within-Therapist Slopes at Low, Average and High Values of "
            "the Moderating Therapist Characteristics (Aim 3)",
            note,
            images[key],
            png_width_inches(images[key]),
        )
    return out
