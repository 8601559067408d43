"""Process-outcome analysis of patients nested in therapists.

Reproduces the analysis design of Coyne & Constantino (J Consult Clin Psychol 2022):
within- and between-therapist associations of working alliance and outcome expectation
with treatment outcome (aim 1), therapist differences in those associations (aim 2) and
therapist-level moderators of them (aim 3).
"""

from process_outcome.errors import InputError

__all__ = ["InputError"]
__version__ = "0.1.0"
