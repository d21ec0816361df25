"""User-facing errors: the CLI prints their message (what is wrong, how to fix it), no traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input or environment, reported without a traceback."""
