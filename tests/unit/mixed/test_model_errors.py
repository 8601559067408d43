"""Unsupported designs and degenerate inputs stop with a message that names them, by
both the formula interface and ``fit_mixed``; the formula interface's model object."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from process_outcome.errors import InputError, ModelSpecificationError
from process_outcome.mixed import contrast, fit_mixed
from process_outcome.mixed.formula import lmer, parse_formula


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    t = np.repeat([f"T{i:02d}" for i in range(10)], 12)
    p = np.repeat([f"P{i}" for i in range(40)], 3)
    d = pd.DataFrame({"therapist": t, "patient": p, "session": np.tile([0.0, 1, 2], 40)})
    d["x"] = rng.normal(size=len(d))
    d["y"] = (
        0.3 * d["x"]
        + np.repeat(rng.normal(size=10), 12)
        + np.repeat(rng.normal(size=40), 3) * 0.7
        + rng.normal(size=len(d))
    )
    d["arm"] = np.where(np.arange(len(d)) % 2 == 0, "1", "2")  # digit labels, a factor
    return d


def test_error_type_is_an_input_error_and_a_value_error():
    assert issubclass(ModelSpecificationError, InputError)
    assert issubclass(ModelSpecificationError, ValueError)


def test_crossed_factors_are_not_supported(data):
    d = data.assign(rater=np.tile(list("abc"), 40))  # raters crossed with therapists
    with pytest.raises(ModelSpecificationError, match="crossed"):
        lmer("y ~ x + (1 | therapist) + (1 | rater)", d)


def test_implicit_nesting_with_repeated_inner_ids_is_caught(data):
    d = data.assign(patient=np.tile(np.repeat(["p1", "p2", "p3", "p4"], 3), 10))
    with pytest.raises(ModelSpecificationError, match=r"therapist:patient"):
        lmer("y ~ x + (1 | therapist) + (1 | patient)", d)
    fit = lmer("y ~ x + (1 | therapist) + (1 | therapist:patient)", d)
    assert fit.n_groups == {"therapist": 10, "therapist:patient": 40}


@pytest.mark.parametrize(
    ("formula", "rows", "message"),
    [
        ("y ~ x + (1 | therapist)", lambda d: d[d.therapist == "T00"], "single group"),
        ("y ~ x + (1 | patient)", lambda d: d[d.session == 0], "one row per group"),
        ("y ~ x + (1 + x + session | patient)", lambda d: d, r"rows \(120\) <= random effects"),
    ],
)
def test_unidentified_designs(data, formula, rows, message):
    with pytest.raises(ModelSpecificationError, match=message):
        lmer(formula, rows(data))


def test_non_numeric_response_and_missing_column(data):
    with pytest.raises(ModelSpecificationError, match="'arm' is not numeric"):
        lmer("arm ~ x + (1 | therapist)", data)
    with pytest.raises(ModelSpecificationError, match=r"not in the data: \['z'\]"):
        lmer("y ~ z + (1 | therapist)", data)
    with pytest.raises(ModelSpecificationError, match="no random term"):
        lmer("y ~ x", data)


def test_digit_labels_are_a_factor_in_formulas(data):
    fit = lmer("y ~ x + arm + (1 | therapist)", data)
    assert fit.terms == ("(Intercept)", "x", "arm2")


def test_fit_mixed_messages(data):
    with pytest.raises(ModelSpecificationError, match=r"terms='x' is a string.*\['x'\]"):
        fit_mixed(data, "y", "x", "therapist")
    with pytest.raises(ModelSpecificationError, match="'arm' is not numeric"):
        fit_mixed(data, "y", ["arm"], "therapist")
    with pytest.raises(ModelSpecificationError, match="single group"):
        fit_mixed(data[data.therapist == "T00"], "y", ["x"], "therapist")
    with pytest.raises(ModelSpecificationError, match="one row per group"):
        fit_mixed(data[data.session == 0], "y", ["x"], "patient")
    with pytest.raises(ModelSpecificationError, match=r"rows \(80\) <= random effects"):
        fit_mixed(data[data.session < 2], "y", ["x"], "patient", slope="x")
    with pytest.raises(ModelSpecificationError, match="not in the data"):
        fit_mixed(data, "y", ["nope"], "therapist")


def test_parse_formula_forms():
    parsed = parse_formula("y ~ a * b + (1 + a || g/h)")
    assert parsed.fixed == "a * b"
    assert parsed.random == [
        ("1", "g", False),
        ("0 + a", "g", False),
        ("1", "g:h", False),
        ("0 + a", "g:h", False),
    ]


def test_model_object(data):
    fit = lmer("y ~ x * session + (1 + x | therapist) + (1 | therapist:patient)", data)
    assert fit.converged
    assert fit.terms == ("(Intercept)", "x", "session", "x:session")
    assert np.isclose(fit.aic, -2 * fit.loglik + 2 * (4 + 4 + 1))
    assert np.isclose(fit.bic, -2 * fit.loglik + np.log(120) * 9)
    assert "therapist:patient" in fit.summary()
    assert list(fit.coef_table().columns[:3]) == ["term", "estimate", "se"]
    fixed_only = fit.predict(random=False)
    full = fit.predict()
    assert np.allclose(
        fixed_only,
        np.column_stack([np.ones(120), data.x, data.session, data.x * data.session])
        @ fit.fixed_effects,
    )
    # the conditional modes enter the prediction; a new therapist gets none
    assert not np.allclose(full, fixed_only)
    new = data.iloc[:3].assign(therapist="new", patient="new")
    assert np.allclose(fit.predict(new), fixed_only[:3])
    # the fixed-effect ML fit: the same model, a higher (ML) likelihood criterion
    ml = lmer("y ~ x * session + (1 + x | therapist) + (1 | therapist:patient)", data, REML=False)
    assert not ml.reml and ml.converged
    # lmerTest-style contrasts work on the model object as on MixedFit
    simple = contrast(fit, {"x": 1.0, "x:session": 1.0})
    assert simple["estimate"].iloc[0] == pytest.approx(fit.fixed_effects[1] + fit.fixed_effects[3])
    assert simple["df"].iloc[0] > 0
