"""Process-outcome analysis of patients nested in therapists.

Reproduces the analysis design of Coyne & Constantino (J Consult Clin Psychol 2022):
within- and between-therapist associations of working alliance and outcome expectation
with treatment outcome (aim 1), therapist differences in those associations (aim 2) and
therapist-level moderators of them (aim 3).

The mixed-model engine is a stable public entry point for scripts and replicating labs::

    from process_outcome import fit_mixed, fit_at_theta, mixture_lr_test

    fit = fit_mixed(data, "post", ["baseline", "alliance"], "therapist", slope="alliance")
    fit.coefficients  # term, estimate, se, df (Satterthwaite), t, p, ci_low, ci_high
    fit.loglik, fit.theta, fit.sigma, fit.variance_components
    fit.singular, fit.converged, fit.n_groups

It fits ``response ~ terms + (1 [+ slope] | group)`` by REML with lme4's optimum and
lmerTest's Satterthwaite tests (checked against lme4 1.1-31 on public data sets in
``tests/unit/mixed/test_public_lme4.py``).
"""

from __future__ import annotations

from typing import Any

from process_outcome.errors import InputError

__all__ = ["InputError", "fit_at_theta", "fit_mixed", "mixture_lr_test"]
__version__ = "0.1.0"

# the engine imports numpy, pandas and scipy: load it on first use, so that jobs that
# only read config or write text stay light
_LAZY = {
    "fit_mixed": "process_outcome.mixed.fit",
    "fit_at_theta": "process_outcome.mixed.fit",
    "mixture_lr_test": "process_outcome.mixed.testing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'process_outcome' has no attribute {name!r}")
