"""The registry of outputs agrees with everything that reads it: table builders and their
contracts, printed-table functions, figures, captions and the supplement's descriptions.
(That the workflow writes exactly the registered files is checked end to end in
tests/workflow/test_workflow.py.)"""

from __future__ import annotations

import pytest

from process_outcome.analysis.tables import BUILDERS, contracts
from process_outcome.manuscript.tables import TABLE_FUNCTIONS
from process_outcome.outputs import OUTPUTS, PARTS, Output, output, outputs
from process_outcome.supplement.readme import describe_result
from tests.conftest import ROOT

CAPTIONS = ROOT / "workflow" / "captions"


def test_names_are_unique_and_parts_known():
    names = [o.name for o in OUTPUTS]
    assert len(names) == len(set(names))
    assert {o.part for o in OUTPUTS} <= set(PARTS)
    assert all(set(o.reported) <= set(o.formats) for o in OUTPUTS)


def test_every_caption_belongs_to_a_registered_output_and_back():
    wanted = {o.caption(fmt) for o in OUTPUTS for fmt in o.reported}
    present = {f"captions/{p.name}" for p in CAPTIONS.glob("*.rst")} - {"captions/workflow.rst"}
    assert wanted == present
    assert all((CAPTIONS / w.removeprefix("captions/")).read_text().strip() for w in wanted)


def test_results_tables_rule_builds_exactly_its_registered_tables():
    registered = {o.name for o in outputs(rule="results_tables")}
    # The simulation check needs the simulated truth beside the tables, so the rule body
    # builds it separately.
    assert set(BUILDERS) | {"truth_recovery"} == registered
    assert set(contracts()) <= registered


def test_printed_tables_have_a_table_function_and_figures_are_pdf_and_png():
    assert set(TABLE_FUNCTIONS) == {o.name for o in outputs(folder="report/tables")}
    assert all(o.formats == ("pdf", "png") for o in outputs(folder="figures"))


@pytest.mark.parametrize("entry", OUTPUTS, ids=lambda o: o.name)
def test_supplement_describes_each_file_by_its_registry_entry(entry: Output):
    for path in entry.paths:
        assert describe_result(path.removeprefix("results/")).startswith(entry.description)


def test_lookup_errors_name_the_registry():
    with pytest.raises(KeyError, match="aim3_moderation"):
        output("aim3")
    with pytest.raises(ValueError, match="pdf"):
        output("aim1_fixed_effects").path("pdf")
