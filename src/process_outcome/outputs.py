"""The registry of the workflow's shared outputs: results tables, figures and the manuscript.

One entry per output, under one name (the file's stem). Every other part reads it: the
Snakemake rules take their output paths, ``snakemake --report`` categories and captions
from it, the manuscript reads the tables by these names and places printed tables and
figures by their ``part``, the supplement describes each packaged file with its
``description``, and the tests check that each part agrees with it.

A new results table is

1. a builder with its column contract (``analysis/tables.py``: function, pandera schema
   and its entry in ``BUILDERS``),
2. an entry here,
3. a caption (``workflow/captions/<name>.rst``), and,
4. if it is printed in the manuscript, a table function (``manuscript/tables.py``,
   registered in ``TABLE_FUNCTIONS``) with an entry here in ``report/tables``.

Examples
--------
>>> output("aim3_moderation").path()
'results/tables/aim3_moderation.csv'
>>> [o.name for o in outputs(rule="figures")]
['figure1_aim1_forest', 'figure2_aim2_caterpillar', 'figure3_aim3_simple_slopes']
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "OUTPUTS",
    "PARTS",
    "Output",
    "output",
    "outputs",
]

# The manuscript's parts in the order they are printed; also the categories of
# ``snakemake --report``.
PARTS = (
    "Descriptives",
    "Aim 1",
    "Aim 2",
    "Aim 3",
    "Robustness",
    "Simulation check",
    "Manuscript",
)


@dataclass(frozen=True)
class Output:
    """One shared output of the workflow.

    Attributes
    ----------
    name : str
        The output's one name: its file stem, and its key in the rules, the manuscript's
        inputs, the table contracts and the tests.
    folder : str
        Folder under ``results/``.
    formats : tuple of str
        File extensions written, without the dot.
    rule : str
        The Snakemake rule that writes it.
    part : str
        One of :data:`PARTS`: the manuscript part a printed table or figure belongs to
        (it is placed after that part's prose) and the category in ``snakemake --report``.
    description : str
        One line on what it is, for the supplement's README.
    reported : tuple of str
        Formats shown in ``snakemake --report``, each with the caption
        :attr:`caption` names.
    simulated_only : bool
        Written only when the data are the built-in simulated study.
    """

    name: str
    folder: str
    formats: tuple[str, ...]
    rule: str
    part: str
    description: str
    reported: tuple[str, ...] = ()
    simulated_only: bool = False

    def path(self, fmt: str | None = None) -> str:
        """The output's path relative to the working directory.

        Examples
        --------
        >>> output("figure1_aim1_forest").path("png")
        'results/figures/figure1_aim1_forest.png'
        """
        fmt = fmt or self.formats[0]
        if fmt not in self.formats:
            raise ValueError(f"{self.name} is written as {self.formats}, not {fmt!r}")
        return f"results/{self.folder}/{self.name}.{fmt}"

    @property
    def paths(self) -> tuple[str, ...]:
        """Every file of the output, one per format."""
        return tuple(self.path(f) for f in self.formats)

    def files(self) -> dict[str, str]:
        """The output's files keyed as the writing rule names them: ``<name>`` for an
        output in one format, ``<name>_<format>`` for each format otherwise.

        Examples
        --------
        >>> output("figure2_aim2_caterpillar").files()["figure2_aim2_caterpillar_png"]
        'results/figures/figure2_aim2_caterpillar.png'
        >>> output("aim3_moderation").files()
        {'aim3_moderation': 'results/tables/aim3_moderation.csv'}
        """
        if len(self.formats) == 1:
            return {self.name: self.path()}
        return {f"{self.name}_{fmt}": self.path(fmt) for fmt in self.formats}

    def caption(self, fmt: str) -> str:
        """Caption file for ``snakemake --report``, relative to ``workflow/``.

        Examples
        --------
        >>> output("aim1_fixed_effects").caption("csv")
        'captions/aim1_fixed_effects.rst'
        >>> output("manuscript").caption("docx")
        'captions/manuscript_docx.rst'
        """
        if fmt not in self.reported:
            raise ValueError(f"{self.name}.{fmt} is not shown in the Snakemake report")
        suffix = f"_{fmt}" if len(self.reported) > 1 else ""
        return f"captions/{self.name}{suffix}.rst"


def _table(name: str, rule: str, part: str, description: str, **kw: bool) -> Output:
    return Output(name, "tables", ("csv",), rule, part, description, ("csv",), **kw)


def _figure(name: str, part: str, description: str) -> Output:
    return Output(name, "figures", ("pdf", "png"), "figures", part, description, ("png",))


def _printed(name: str, part: str) -> Output:
    # Printed tables are described by the manuscript itself; the LaTeX file is for authors
    # who typeset the paper.
    return Output(
        name, "report/tables", ("tex",), "manuscript", part, "results table for the manuscript"
    )


OUTPUTS: tuple[Output, ...] = (
    _table(
        "descriptives",
        "descriptives",
        "Descriptives",
        "n, mean, SD, range of every measure by level; ICC(1)",
    ),
    _table("correlations", "descriptives", "Descriptives", "patient-level correlations"),
    _table(
        "rm_correlations",
        "descriptives",
        "Descriptives",
        "repeated-measures (within-patient) correlations",
    ),
    _table(
        "reliability",
        "clean_data",
        "Descriptives",
        "internal consistency (alpha, omega) of measures scored from items",
    ),
    _table(
        "icc_therapist_means",
        "descriptives",
        "Descriptives",
        "ICC(1) and ICC(2) (reliability of therapists' means) of each process",
    ),
    _table(
        "aim1_fixed_effects",
        "results_tables",
        "Aim 1",
        "aim 1 fixed effects (one model per process and the joint model)",
    ),
    _table(
        "aim1_between_corrected",
        "results_tables",
        "Aim 1",
        "aim 1 within, between and contextual effects from observed and latent therapist means",
    ),
    _table(
        "effect_sizes_r2",
        "results_tables",
        "Aim 1",
        "R² decomposition (Rights & Sterba) and conditional ICC, aims 1 and 2",
    ),
    _table(
        "standardized_effects",
        "results_tables",
        "Aim 1",
        "aim 1 standardized within- and between-therapist effects",
    ),
    _table(
        "aim2_slope_tests",
        "results_tables",
        "Aim 2",
        "aim 2 tests of therapist slope variance, slope SD and range",
    ),
    _table(
        "aim2_fixed_effects",
        "results_tables",
        "Aim 2",
        "aim 2 fixed effects of the random-slope models",
    ),
    _table(
        "aim2_therapist_slopes",
        "results_tables",
        "Aim 2",
        "aim 2 empirical-Bayes slope of each therapist (pseudonymous codes)",
    ),
    _table(
        "aim2_slope_correlations",
        "results_tables",
        "Aim 2",
        "aim 2 correlation of therapists' slopes across processes",
    ),
    _table(
        "variance_components",
        "results_tables",
        "Aim 2",
        "aims 1 and 2: variance components, SDs with 95% profile-likelihood CIs (random-slope "
        "models), REML log-likelihood, deviance and AIC of every model, unrounded",
    ),
    _table(
        "aim3_moderation",
        "results_tables",
        "Aim 3",
        "aim 3 cross-level interactions with BH-FDR adjusted p",
    ),
    _table(
        "aim3_simple_slopes",
        "results_tables",
        "Aim 3",
        "aim 3 simple slopes at moderator levels",
    ),
    _table(
        "robustness",
        "robustness_table",
        "Robustness",
        "key estimates of aims 1-3 in the main analysis and each robustness variant",
    ),
    _table(
        "truth_recovery",
        "results_tables",
        "Simulation check",
        "simulated study only: true parameters beside the estimates",
        simulated_only=True,
    ),
    _figure(
        "figure1_aim1_forest", "Aim 1", "figure 1: aim 1 within- and between-therapist effects"
    ),
    _figure("figure2_aim2_caterpillar", "Aim 2", "figure 2: aim 2 therapists' slopes"),
    _figure("figure3_aim3_simple_slopes", "Aim 3", "figure 3: aim 3 simple slopes"),
    _printed("table1_descriptives", "Descriptives"),
    _printed("table2_correlations", "Descriptives"),
    _printed("table3_aims12", "Aim 2"),
    _printed("table4_moderation", "Aim 3"),
    _printed("table5_robustness", "Robustness"),
    Output(
        "manuscript",
        "report",
        ("html", "docx", "md", "pdf"),
        "manuscript",
        "Manuscript",
        "results report",
        ("html", "docx"),
    ),
)


def output(name: str) -> Output:
    """The registry entry of one output.

    Examples
    --------
    >>> output("table3_aims12").rule
    'manuscript'
    """
    for o in OUTPUTS:
        if o.name == name:
            return o
    raise KeyError(f"no output named {name!r}; the registry has {[o.name for o in OUTPUTS]}")


def outputs(
    *,
    rule: str | None = None,
    folder: str | None = None,
    part: str | None = None,
    simulated: bool = True,
) -> tuple[Output, ...]:
    """Registry entries, in registry order, filtered by rule, folder and part.

    ``simulated=False`` leaves out outputs written only for the simulated study.

    Examples
    --------
    >>> [o.name for o in outputs(folder="report/tables", part="Descriptives")]
    ['table1_descriptives', 'table2_correlations']
    >>> "truth_recovery" in [o.name for o in outputs(rule="results_tables", simulated=False)]
    False
    """
    return tuple(
        o
        for o in OUTPUTS
        if (rule is None or o.rule == rule)
        and (folder is None or o.folder == folder)
        and (part is None or o.part == part)
        and (simulated or not o.simulated_only)
    )
