"""The mixed-model engine: lme4's profiled REML deviance, its optimizer, Satterthwaite
degrees of freedom and the mixture likelihood-ratio test. The bottom layer: of the package
it imports only the foundation module :mod:`process_outcome.files` (JSON helpers).

Modules: :mod:`~.reml` (deviance), :mod:`~.optimize` (optimizer and escalation),
:mod:`~.results` (:class:`MixedFit`, singularity tolerances :data:`SINGULAR_TOL` and
:data:`CORRELATION_LIMIT`), :mod:`~.fit` (:func:`fit_mixed`, :func:`fit_at_theta`),
:mod:`~.nested` and :mod:`~.model` (random terms nested in one top-level factor:
:func:`fit_nested`, :class:`LinearMixedModel`), :mod:`~.formula` (lme4 formulas:
:func:`lmer`), :mod:`~.derivatives` (numDeriv's Richardson extrapolation),
:mod:`~.marginal` (moments
of the block-diagonal marginal covariance), :mod:`~.varpar` (exact derivatives in the
variance parameters), :mod:`~.satterthwaite` (lmerTest's t tests and contrasts),
:mod:`~.kenward_roger` (pbkrtest's Kenward-Roger), :mod:`~.inference` (either, by
``ddf``), :mod:`~.testing` (mixture LR test, FDR), :mod:`~.bootstrap` (parametric
bootstrap LR test of a random slope).

>>> from process_outcome.mixed import SINGULAR_TOL, CORRELATION_LIMIT
>>> SINGULAR_TOL, CORRELATION_LIMIT
(0.0001, 0.999)
"""

from process_outcome.mixed.bootstrap import BootstrapLR, bootstrap_slope_test
from process_outcome.mixed.derivatives import richardson_hessian, richardson_jacobian
from process_outcome.mixed.fit import (
    fit_at_theta,
    fit_mixed,
    reml_deviance,
    theta_from_variance_components,
)
from process_outcome.mixed.formula import lmer, parse_formula
from process_outcome.mixed.inference import DDF_METHODS, fixed_contrast, fixed_effects_table
from process_outcome.mixed.kenward_roger import (
    KenwardRoger,
    kenward_roger,
    kr_coefficient_table,
    kr_contrast,
)
from process_outcome.mixed.model import LinearMixedModel, RandomTerm, fit_nested
from process_outcome.mixed.optimize import (
    AGREE_TOL,
    CURVATURE_TOL,
    DECREMENT_TOL,
    TIE_TOL,
    OptimumSearch,
    check_optimum,
    search_optimum,
    start_from_fit,
)
from process_outcome.mixed.results import (
    CORRELATION_LIMIT,
    HESSIAN_EIGEN_TOL,
    INTERCEPT,
    NESTING_TOL,
    SINGULAR_TOL,
    FitAttempt,
    MixedFit,
    OptimumCheck,
    assemble_fit,
)
from process_outcome.mixed.satterthwaite import (
    COEFFICIENT_COLUMNS,
    CONTRAST_COLUMNS,
    FixedEffectsFit,
    coefficient_table,
    contrast,
    contrast_vector,
    satterthwaite,
    t_test_row,
)
from process_outcome.mixed.testing import fdr_bh, mixture_lr_test

__all__ = [
    "AGREE_TOL",
    "COEFFICIENT_COLUMNS",
    "CONTRAST_COLUMNS",
    "CORRELATION_LIMIT",
    "CURVATURE_TOL",
    "DDF_METHODS",
    "DECREMENT_TOL",
    "HESSIAN_EIGEN_TOL",
    "INTERCEPT",
    "NESTING_TOL",
    "SINGULAR_TOL",
    "TIE_TOL",
    "BootstrapLR",
    "FitAttempt",
    "FixedEffectsFit",
    "KenwardRoger",
    "LinearMixedModel",
    "MixedFit",
    "OptimumCheck",
    "OptimumSearch",
    "RandomTerm",
    "assemble_fit",
    "bootstrap_slope_test",
    "check_optimum",
    "coefficient_table",
    "contrast",
    "contrast_vector",
    "fdr_bh",
    "fit_at_theta",
    "fit_mixed",
    "fit_nested",
    "fixed_contrast",
    "fixed_effects_table",
    "kenward_roger",
    "kr_coefficient_table",
    "kr_contrast",
    "lmer",
    "mixture_lr_test",
    "parse_formula",
    "reml_deviance",
    "richardson_hessian",
    "richardson_jacobian",
    "satterthwaite",
    "search_optimum",
    "start_from_fit",
    "t_test_row",
    "theta_from_variance_components",
]
