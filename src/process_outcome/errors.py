"""The project's own error type for a user's mistake in data or config."""

from __future__ import annotations

__all__ = [
    "InputError",
]


class InputError(Exception):
    """A problem in the user's data or config that the user must fix.

    The message names the file, column, rows and values involved and says how to fix
    them; the workflow prints it without a traceback and exits non-zero.
    """
