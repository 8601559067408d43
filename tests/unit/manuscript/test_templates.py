"""The manuscript's templates on a small hand-made study: every slot resolves, a lab's
own templates and sections replace or join the package's, a template that no longer
fits the results stops with template, line and name, the authors' parts are never
invented, and the config's `manuscript:` section switches tables and sections. Nothing
here pins wording: rewording a template changes no test."""

from __future__ import annotations

import copy
import re

import pytest

from process_outcome.errors import InputError
from process_outcome.manuscript.build import all_tables, render_manuscript
from tests.conftest import ROOT
from tests.unit.manuscript import handmade

TEMPLATES = ROOT / "workflow" / "templates"
FIGURES = ("figure1_aim1_forest", "figure2_aim2_caterpillar", "figure3_aim3_simple_slopes")


def _render(config=None, results=None, **kw) -> str:
    config = config or handmade.config()
    results = results or handmade.results()
    images = {name: handmade.png() for name in FIGURES}
    return render_manuscript(config, results, handmade.provenance(), images, TEMPLATES, **kw)


def _prose(md: str) -> str:
    """The text without tables, figures, spans' attributes and Div fences."""
    out, skip = [], False
    for line in md.splitlines():
        if re.match(r"::: \{#(tbl|fig):", line):
            skip = True
        elif skip and line.strip() == ":::":
            skip = False
        elif not skip and not line.startswith(":::"):
            out.append(line)
    return re.sub(r"\[([^\]]*)\]\{\.stat[^}]*\}", r"\1", "\n".join(out))


@pytest.mark.parametrize("moderators", [True, False])
@pytest.mark.parametrize("interaction_p", [0.004, 0.4])
def test_every_slot_resolves_and_nothing_is_left_unfilled(moderators, interaction_p):
    md = _render(handmade.config(moderators), handmade.results(moderators, interaction_p))
    prose = _prose(md)
    for bad in (r"\bNone\b", r"\bnan\b", r"\{\{", r"\{%", r"\(\)", "Researcher Example"):
        assert not re.search(bad, prose), bad
    # Every table and figure the text cites is in the document.
    for label in set(re.findall(r"@((?:tbl|fig):\w+)", md)):
        assert "{#" + label in md, label
    assert "# Results" in md and "# Method" in md


def test_each_printed_number_carries_its_source_cell():
    md = _render()
    spans = re.findall(r'\[([^\]]+)\]\{\.stat data-source="([^"]+)" data-key="([^"]*)"', md)
    assert len(spans) > 30
    assert {s[1] for s in spans} >= {"aim1_fixed_effects", "descriptives", "aim2_slope_tests"}


def test_authors_parts_say_they_are_to_be_written_never_invented():
    md = _render()
    title = md.split("::: {#title_page", 1)[1]
    assert "to be written by the authors" in title.split(":::\n", 2)[0] + title
    for part in ("Authors and affiliations", "abstract", "introduction", "discussion"):
        assert re.search(rf"{part}[^\n]* is (are )?to be written", md, re.I) or re.search(
            rf"{part}[^\n]* are to be written", md, re.I
        ), part
    # The configured study title is the analysis's, not the article's title.
    assert "Bonds and well-being" not in md.split("::: {#method")[0]


def test_front_matter_from_the_config_and_a_file(tmp_path):
    config = handmade.config()
    config["manuscript"] |= {
        "title": "Bond and Well-Being in Routine Care",
        "authors": [{"name": "Ada Lovelace", "affiliation": "Analytical Institute"}],
        "abstract": "We studied bonds.",
        "keywords": ["alliance", "therapist effects"],
    }
    front = tmp_path / "front.yaml"
    front.write_text("author_note: Correspondence to the first author.\n", encoding="utf-8")
    config["manuscript"]["front_matter"] = str(front)
    md = _render(config)
    for text in (
        "Bond and Well-Being in Routine Care",
        "Ada Lovelace",
        "Analytical Institute",
        "We studied bonds.",
        "alliance, therapist effects",
        "Correspondence to the first author.",
    ):
        assert text in md, text
    front.write_text("titel: typo\n", encoding="utf-8")
    with pytest.raises(InputError, match="titel"):
        _render(config)


def test_lab_sections_and_overrides_use_the_same_slots(tmp_path):
    (tmp_path / "introduction.md").write_text(
        "Our own introduction; the within effect was "
        '{{ tables.aim1_fixed_effects.row(outcome="wellbeing", process="bond", '
        'term="bond_within").estimate | num }}.\n',
        encoding="utf-8",
    )
    (tmp_path / "discussion.md").write_text("Our own discussion.\n", encoding="utf-8")
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    (results_dir / "aim2.md.j2").write_text("## Aim 2\n\nOur own Aim 2 text.\n", encoding="utf-8")
    config = handmade.config()
    config["manuscript"]["templates"] = str(tmp_path)
    md = _render(config)
    assert "Our own introduction; the within effect was [0.35]{.stat" in md
    assert "Our own discussion." in md and "Our own Aim 2 text." in md
    assert "to be written by the authors.*\n" not in md.split("# Discussion")[1][:80]


def test_template_that_no_longer_fits_names_template_line_and_name(tmp_path):
    (tmp_path / "discussion.md").write_text(
        "# Discussion\n\nFine.\n\n{{ tables.aim1_fixed_effects.row(outcome='x').estimat }}\n",
        encoding="utf-8",
    )
    config = handmade.config()
    config["manuscript"]["templates"] = str(tmp_path)
    with pytest.raises(InputError, match=r"discussion\.md, line 5: .*0 rows"):
        _render(config)
    (tmp_path / "discussion.md").write_text("A\n\n{{ no_such_name }}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"discussion\.md, line 3: 'no_such_name' is undefined"):
        _render(config)
    (tmp_path / "discussion.md").write_text("{% if %}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"discussion\.md, line 1"):
        _render(config)


def test_tables_switched_off_or_to_the_supplement():
    config = handmade.config()
    config["manuscript"]["tables"] = {"table2_correlations": "supplement"}
    md = _render(config)
    assert "{#tbl:table2_correlations .apa-table .supplement}" in md
    assert md.index("{#tbl:table2_correlations") > md.index("# References")
    config["manuscript"]["tables"] = {"table2_correlations": "off"}
    # The default Results template cites that table: it says which and how to fix.
    with pytest.raises(InputError, match="tbl:table2_correlations.*switched off"):
        _render(config)


def test_sections_on_and_off_in_order():
    config = handmade.config()
    config["manuscript"]["sections"] = ["results", "method", "tables_supplement"]
    md = _render(config)
    assert md.index("# Results") < md.index("# Method")
    assert "# Abstract" not in md and "# References" not in md
    config["manuscript"]["sections"] = ["results", "nonsense"]
    with pytest.raises(InputError, match="nonsense"):
        _render(config)


def test_no_directional_reading_of_a_nonsignificant_interaction():
    prose = _prose(_render(handmade.config(), handmade.results(True, 0.4)))
    aim3 = prose.split("## Aim 3")[1]
    for word in ("same direction", "opposite direction", "tended", "trend"):
        assert word not in aim3


def test_fdr_adjusted_p_is_labelled_as_such():
    prose = _prose(_render())
    assert "*p*~FDR~" in prose.split("## Aim 3")[1]


def test_printed_tables_are_built_once_for_every_registered_name():
    printed = all_tables(handmade.config(), handmade.results())
    assert set(printed) >= {"table1_descriptives", "table4_moderation"}


def test_original_findings_come_from_the_config():
    config = copy.deepcopy(handmade.config())
    config["manuscript"]["original_study"]["findings"] = [
        {
            "process": "bond",
            "moderator": "years",
            "direction": "more_beneficial",
            "statement": "experienced therapists drew more benefit from the bond",
        }
    ]
    md = _render(config)
    assert "experienced therapists drew more benefit from the bond" in md
    config["manuscript"]["original_study"]["findings"] = []
    assert "drew more benefit" not in _render(config)


def test_simple_slopes_only_for_a_significant_interaction_of_a_non_singular_fit():
    probed = 'data-source="aim3_simple_slopes"'
    assert probed in _render(handmade.config(True), handmade.results(True, 0.004))
    results = handmade.results(True, 0.004)
    results.tables["aim3_moderation"]["singular"] = True
    md = _render(handmade.config(True), results)
    assert probed not in md
    results = handmade.results(True, 0.4)
    results.tables["aim3_simple_slopes"] = results.tables["aim3_simple_slopes"].iloc[0:0]
    prose = _prose(_render(handmade.config(True), results))
    assert "Simple slopes: ." not in prose and probed not in prose


def test_a_slope_correlation_not_computed_gives_its_reason_not_a_dash():
    import pandas as pd

    from process_outcome.analysis.tables import SLOPE_CORRELATION_COLUMNS

    results = handmade.results()
    reason = "the bond slopes do not vary across therapists"
    row = dict.fromkeys(SLOPE_CORRELATION_COLUMNS) | {
        "outcome": "wellbeing",
        "process_a": "bond",
        "process_b": "bond",
        "n": 12,
        "singular": False,
        "not_computed": reason,
    }
    results.tables["aim2_slope_correlations"] = pd.DataFrame([row])
    prose = _prose(_render(handmade.config(), results))
    assert reason in prose and "*r* = –" not in prose
