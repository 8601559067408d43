"""The project's own error type for a user's mistake in data or config."""

from __future__ import annotations

__all__ = [
    "InputError",
    "ModelSpecificationError",
]


class InputError(Exception):
    """A problem in the user's data or config that the user must fix.

    The message names the file, column, rows and values involved and says how to fix
    them; the workflow prints it without a traceback and exits non-zero.
    """


class ModelSpecificationError(InputError, ValueError):
    """A mixed model that cannot be fitted as specified (a design the engine does not
    support, or data that cannot identify it: one group, groups of one row, no more rows
    than random effects, a column that is not numeric).

    Also a ``ValueError``, so callers that already treat a failed fit as one keep doing so.
    """
