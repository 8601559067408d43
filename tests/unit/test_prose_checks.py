"""The prose checker of the generated-study tests (tests/prose_checks.py) finds what it
claims and passes APA style: each check is shown failing on a bad sentence."""

from __future__ import annotations

import pytest

from tests.prose_checks import Block, blocks, check_manuscript, plain, sentences


def _checks(markdown: str) -> list[str]:
    return [d.check for d in check_manuscript(markdown)]


# APA style that must pass: abbreviations, initials, decimals without a leading zero,
# intervals, statistics, a run-in heading, a note opening with symbols, a footnote, an
# equation introduced by a colon and continued by "where".
GOOD = "\n\n".join(
    [
        "# A study of processes",
        "Property Tester",
        "# Method",
        r"*Outcomes.* Symptoms were assessed at every session, e.g., by self-report (i.e., "
        r"the OQ-45; Lambert et al., 2004), as in Coyne and Constantino (2022; cf. Lüdtke "
        r"et al., 2008, vs. older work).",
        "The model was (Equation 1):",
        r"*Y*~ij~ = γ~00~ + *u*~0j~ + *e*~ij~    (1)",
        r"where *Y*~ij~ is the outcome of patient *i* and *u*~0j~ \~ *N*(0, τ~00~) the "
        r"therapist's intercept.",
        "# Results",
        r"Within therapists, the association was negative, γ = −0.27, *SE* = 0.12, "
        r"*t*(77.6) = −2.32, *p* = .023, 95% CI \[−0.50, −0.04\] (Table 1). Figures 1 and 2 "
        r"show it; see also the Appendix.",
        "**Table 1**",
        "*Estimates of the Model*",
        "| Parameter | Estimate |\n|:---|---:|\n| Intercept | 0.99 |",
        r"*Note.* *n* = number of observations; *SE* = standard error. γ = fixed effect. "
        r"^a^Singular fit. ^b^95% profile-likelihood CI. \**p* < .05. \*\**p* < .01.",
        "**Figure 1**",
        "*The First Figure*",
        "![Figure 1](../figures/figure1.png)",
        "*Note.* Points are estimates.",
        "**Figure 2**",
        "*The Second Figure*",
        "![Figure 2](../figures/figure2.png)",
        "# References",
        "Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). Fitting linear "
        "mixed-effects models using lme4. *Journal of Statistical Software, 67*(1), 1–48. "
        "https://doi.org/10.18637/jss.v067.i01",
        "# Appendix: Provenance",
        "*Input Files*",
        "```yaml\ndata:\n  source: None\n```",
    ]
)


def test_apa_style_passes():
    assert check_manuscript(GOOD) == []


def _results(paragraph: str) -> str:
    return f"# Results\n\n{paragraph}\n"


@pytest.mark.parametrize(
    ("paragraph", "check"),
    [
        # The issue 17 paragraph: a lower-case start and two sentences run together.
        ("Slopes were correlated on two processes. for symptoms, r = .19.", "capital"),
        (
            "Therapists tended to benefit more from the other Because higher ratings help, "
            "this is expected.",
            "missing full stop",
        ),
        ("Slopes were correlated on two processes", "full stop"),
        ("Slopes were correlated on two processes;", "full stop"),
        ("95% of therapists' slopes lay between −0.63 and 0.30.", "capital"),
        ("The estimate was None.", "placeholder"),
        ("The estimate was nan, SE = 0.12.", "placeholder"),
        ("The estimate was {{ estimate }}.", "placeholder"),
        ("The estimate was }} large.", "placeholder"),
        ("The slope SD was 0.24 ().", "empty parentheses"),
        ("The slope SD was 0.24 (, 95% CI [0, 0.67]).", "empty parentheses"),
        ("The slope SD was 0.24 (95% CI [0, 0.67], ).", "empty parentheses"),
        ("The CI was \\[\\] for the slope.", "empty parentheses"),
        ("The the slope SD was 0.24.", "doubled word"),
        ("The slope SD was was 0.24.", "doubled word"),
        ("The slope SD was 0.24,, and the LR was 1.2.", "punctuation"),
        ("The slope SD was 0.24 , and the LR was 1.2.", "punctuation"),
        ("The slope SD was 0.24 .", "punctuation"),
        ("FDR-adjusted across the one characteristics of each family.", "agreement"),
        ("Four kept their significance in all one robustness analyses.", "agreement"),
        ("The slopes are shown in Figure 4.", "missing figure"),
        ("The slopes are shown in Table 2.", "missing table"),
        ("The slopes are in Tables 2 and 3.", "missing table"),
        ("The seed is given in the Appendix.", "missing appendix"),
    ],
)
def test_each_check_finds_its_defect(paragraph, check):
    assert check in _checks(_results(paragraph)), check_manuscript(_results(paragraph))


def test_a_note_opening_with_a_lower_case_word_fails():
    text = _results(
        "The estimate is in Table 1.\n\n**Table 1**\n\n*T*\n\n| a |\n|:--|\n| 1 |\n\n"
        "*Note.* *n* = number of patients. the estimates are fixed effects."
    )
    assert _checks(text) == ["capital"]


def test_a_table_cell_with_nan_fails():
    text = _results(
        "The estimate is in Table 1.\n\n**Table 1**\n\n*T*\n\n| a | b |\n|:--|--:|\n"
        "| Intercept | nan |"
    )
    assert _checks(text) == ["placeholder"]


def test_a_printed_table_no_text_cites_fails():
    # Only the table's own note mentions it.
    text = _results(
        "The estimates are below.\n\n**Table 1**\n\n*T*\n\n| a |\n|:--|\n| 1 |\n\n"
        "*Note.* Table 1 lists the estimates."
    )
    assert _checks(text) == ["uncited table"]


def test_none_of_is_english():
    assert _checks(_results("None of the therapists saw one patient.")) == []


def test_sentences_keep_apa_abbreviations_and_decimals_together():
    text = plain(
        r"As before (Bates et al., 2015), *p* = .05. The CI was \[−.13, .04\], i.e., wide. "
        r"A. E. Coyne agreed. Next."
    )
    assert sentences(text) == [
        "As before (Bates et al., 2015), p = .05.",
        "The CI was [−.13, .04], i.e., wide.",
        "A. E. Coyne agreed.",
        "Next.",
    ]


def test_blocks_know_code_tables_and_titles():
    kinds = [b.kind for b in blocks(GOOD)]
    assert kinds[:3] == ["heading", "byline", "heading"]
    assert {"code", "table", "title", "label", "note", "image", "equation", "reference"} <= set(
        kinds
    )
    # Code is not prose: "None" in the config is not a placeholder.
    assert not [b for b in blocks(GOOD) if b.kind != "code" and "None" in b.text]


def test_block_is_a_value():
    assert Block("paragraph", "A.", "Results") == Block("paragraph", "A.", "Results")
