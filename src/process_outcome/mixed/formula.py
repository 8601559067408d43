"""lme4-style formulas: ``lmer("y ~ x * f + (1 + x | g) + (1 | g:h)", data)``.

The fixed part and each random term's left-hand side are model matrices made by
`formulaic <https://matthewwardrop.github.io/formulaic/>`_ (factor coding, interactions,
``C()``, ``{x ** 2}``-style transforms), with lme4's column names (``femaleMale``, not
``female[T.Male]``). The random part is lme4's: ``(expr | g)`` (correlated), ``(expr || g)``
(uncorrelated), ``g1:g2`` and ``g1/g2`` (= ``g1`` and ``g1:g2``) for nesting. Rows missing
a value in any variable of the formula are dropped first, as lme4 does.

String or categorical columns are factors; a numeric column is a number even when its
values look like labels: write ``C(x)`` for a factor coded with digits (a column of digit
*strings* is a factor, never silently converted to numbers).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from process_outcome.errors import ModelSpecificationError
from process_outcome.mixed.model import LinearMixedModel, RandomTerm, fit_nested
from process_outcome.mixed.results import INTERCEPT

__all__ = ["ParsedFormula", "lmer", "parse_formula"]


class ParsedFormula:
    """A split lme4 formula: response, fixed part, and ``(lhs, group, correlated)`` terms."""

    def __init__(self, response: str, fixed: str, random: list[tuple[str, str, bool]]):
        self.response = response
        self.fixed = fixed
        self.random = random

    def __repr__(self) -> str:
        return f"ParsedFormula({self.response!r}, {self.fixed!r}, {self.random!r})"


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside parentheses, brackets and braces."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4 formula into response, fixed part and random terms.

    Examples
    --------
    >>> parse_formula("y ~ x + (1 + x | g) + (1 | g:h)")
    ParsedFormula('y', 'x', [('1 + x', 'g', True), ('1', 'g:h', True)])
    >>> parse_formula("y ~ 1 + (1 | a/b)").random
    [('1', 'a', True), ('1', 'a:b', True)]
    >>> parse_formula("y ~ x + (x || g)").random
    [('1', 'g', False), ('0 + x', 'g', False)]
    """
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise ModelSpecificationError(
            f"formula {formula!r} must be one string 'response ~ fixed + (random | group)'"
        )
    lhs, rhs = formula.split("~")
    response = lhs.strip()
    if not response:
        raise ModelSpecificationError(f"formula {formula!r} has no response left of '~'")
    fixed_parts, random = [], []
    for part in _split_top(rhs, "+"):
        p = part.strip()
        if p.startswith("(") and p.endswith(")") and "|" in p:
            inner = p[1:-1]
            double = "||" in inner
            expr, _, grp = inner.partition("||" if double else "|")
            expr, grp = expr.strip(), grp.strip().replace(" ", "")
            if not expr or not grp:
                raise ModelSpecificationError(f"random term {p!r} needs 'expr | group'")
            if "+" in grp.replace(":", "") or "*" in grp:
                raise ModelSpecificationError(
                    f"grouping {grp!r} of {p!r}: write nested factors as a:b or a/b"
                )
            groups = []
            if "/" in grp:
                names = grp.split("/")
                groups = [":".join(names[: i + 1]) for i in range(len(names))]
            else:
                groups = [grp]
            for g in groups:
                if double:
                    pieces = [q.strip() for q in _split_top(expr, "+")]
                    # lme4: (x || g) = (1 | g) + (0 + x | g) unless the intercept is removed
                    if not {"0", "-1", "1"} & set(pieces):
                        pieces.insert(0, "1")
                    for piece in pieces:
                        if piece in {"0", "-1"}:
                            continue
                        random.append((piece if piece == "1" else f"0 + {piece}", g, False))
                else:
                    random.append((expr, g, True))
        elif p:
            fixed_parts.append(p)
    if not random:
        raise ModelSpecificationError(
            f"formula {formula!r} has no random term '(expr | group)': this is ordinary regression"
        )
    return ParsedFormula(response, " + ".join(fixed_parts) or "1", random)


_LEVEL = re.compile(r"(?:C\()?([A-Za-z_][A-Za-z0-9_.]*)\)?\[(?:T\.)?(.*?)\]")


def _lme4_name(name: str) -> str:
    """formulaic's column name in lme4's form: ``f[T.b]`` -> ``fb``, ``Intercept`` ->
    ``(Intercept)``."""
    if name == "Intercept":
        return INTERCEPT
    return ":".join(_LEVEL.sub(lambda m: m.group(1) + m.group(2), part) for part in name.split(":"))


def _model_matrix(spec: str, data: pd.DataFrame, what: str) -> tuple[np.ndarray, list[str], Any]:
    from formulaic import model_matrix

    try:
        mm = model_matrix(spec, data, na_action="raise")
    except Exception as err:  # formulaic's own errors name the problem; wrap them
        raise ModelSpecificationError(f"{what} {spec!r}: {type(err).__name__}: {err}") from None
    names = [_lme4_name(str(c)) for c in mm.columns]
    return np.asarray(mm, dtype=float), names, mm.model_spec


def _variables(spec: str) -> set[str]:
    from formulaic import Formula

    try:
        return set(Formula(spec).required_variables) if spec.strip() not in {"1", "0"} else set()
    except Exception as err:
        raise ModelSpecificationError(f"formula part {spec!r}: {err}") from None


def _check_columns(data: pd.DataFrame, names: set[str], formula: str) -> None:
    missing = sorted(n for n in names if n not in data.columns)
    if missing:
        raise ModelSpecificationError(
            f"formula {formula!r} names columns not in the data: {missing}; "
            f"the data have {list(data.columns)[:20]}"
        )


def lmer(formula: str, data: pd.DataFrame, REML: bool = True) -> LinearMixedModel:
    """Fit an lme4 formula with random terms nested in one top-level factor.

    Parameters
    ----------
    formula : str
        lme4 notation, e.g. ``"y ~ x + (1 + x | therapist) + (1 | therapist:patient)"``.
    data : pandas.DataFrame
        One row per observation.
    REML : bool, default True
        REML (lme4's default) or maximum likelihood.

    Returns
    -------
    LinearMixedModel
        With ``summary()``, ``predict()``, ``aic``, ``bic`` and ``coef_table()``.

    Raises
    ------
    process_outcome.errors.ModelSpecificationError
        For crossed random effects, a single group, groups of one row each, no more rows
        than random effects, a non-numeric response, columns not in the data.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> d = pd.DataFrame({"g": np.repeat(list("abcdefgh"), 10), "x": np.tile(range(10), 8)})
    >>> d["y"] = 0.5 * d["x"] + rng.normal(size=80) + np.repeat(rng.normal(size=8), 10)
    >>> fit = lmer("y ~ x + (1 | g)", d)
    >>> fit.coef_table()["term"].tolist()
    ['(Intercept)', 'x']
    """
    parsed = parse_formula(formula)
    if not isinstance(data, pd.DataFrame):
        raise ModelSpecificationError("data must be a pandas DataFrame")
    used = {parsed.response} | _variables(parsed.fixed)
    for expr, grp, _ in parsed.random:
        used |= _variables(expr) | set(grp.split(":"))
    _check_columns(data, used, formula)
    if not pd.api.types.is_numeric_dtype(data[parsed.response]) or pd.api.types.is_bool_dtype(
        data[parsed.response]
    ):
        raise ModelSpecificationError(
            f"response column {parsed.response!r} is not numeric (dtype "
            f"{data[parsed.response].dtype}); convert it, e.g. pd.to_numeric"
        )
    cols = sorted(used)
    rows = data.loc[data[cols].notna().all(axis=1), cols].reset_index(drop=True)
    if len(rows) == 0:
        raise ModelSpecificationError(f"no rows without missing values in {cols}")
    y = rows[parsed.response].to_numpy(dtype=float)
    x, fixed_names, fixed_spec = _model_matrix(parsed.fixed, rows, "fixed part")
    if INTERCEPT not in fixed_names or fixed_names[0] != INTERCEPT:
        raise ModelSpecificationError(
            f"fixed part {parsed.fixed!r} has no intercept: models without one are not supported"
        )
    terms, specs = [], []
    for expr, grp, _correlated in parsed.random:
        z, names, spec = _model_matrix(expr, rows, f"random term ({expr} | {grp})")
        if INTERCEPT in names and names[0] != INTERCEPT:
            raise ModelSpecificationError(f"random term ({expr} | {grp}): intercept not first")
        labels = rows[grp.split(":")[0]].astype(str).to_numpy()
        for part in grp.split(":")[1:]:
            labels = np.char.add(np.char.add(labels.astype(str), ":"), rows[part].astype(str))
        terms.append(RandomTerm(grp, np.asarray(labels, dtype=str), tuple(names), z))
        specs.append((grp, spec))
    fit = fit_nested(y, x, fixed_names, terms, reml=REML, response=parsed.response, formula=formula)
    predictor = _Predictor(fixed_spec, specs, rows)
    object.__setattr__(fit, "predictor", predictor)
    return fit


class _Predictor:
    """Predictions of a formula fit for new rows (kept on the fit as ``predictor``)."""

    def __init__(self, fixed_spec: Any, random_specs: list[tuple[str, Any]], rows: pd.DataFrame):
        self.fixed_spec = fixed_spec
        self.random_specs = random_specs
        self.rows = rows

    def __call__(self, fit: LinearMixedModel, newdata: pd.DataFrame | None, random: bool):
        data = self.rows if newdata is None else newdata
        x = np.asarray(self.fixed_spec.get_model_matrix(data, na_action="ignore"), dtype=float)
        out = x @ fit.fixed_effects
        if not random:
            return out
        for grp, spec in self.random_specs:
            z = np.asarray(spec.get_model_matrix(data, na_action="ignore"), dtype=float)
            labels = data[grp.split(":")[0]].astype(str).to_numpy()
            for part in grp.split(":")[1:]:
                labels = np.char.add(np.char.add(labels.astype(str), ":"), data[part].astype(str))
            re_frame = fit.random_effects[grp]
            names = [_lme4_name(str(c)) for c in spec.column_names]
            table = re_frame.set_index("group")[names]
            b = table.reindex(np.asarray(labels, dtype=str)).to_numpy(dtype=float)
            b = np.nan_to_num(b, nan=0.0)  # new groups: no random effect
            out = out + np.sum(z * b, axis=1)
        return out
