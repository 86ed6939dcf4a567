"""The errors a user can fix, in one place: the command line prints any :class:`UserError` in
one line with exit code 2, and lets every other exception keep its traceback (a bug).

:class:`UserError` itself comes from :mod:`primitives.errors`, the lowest layer, so that
``primitives.ProgramError`` and ``search.config.ConfigError`` inherit it too.
"""

from primitives.errors import UserError

__all__ = ["UserError", "UsageError", "ExportError", "MissingRun"]


class UsageError(UserError):
    """A mistake in the command line or its inputs: a bad flag, a name used twice, a device
    that is not there."""


class ExportError(UserError, ValueError):
    """A program that cannot be found, read or exported; the message is one line."""


class MissingRun(UserError, FileNotFoundError):
    """A run name or directory that holds no run (or not the files a command needs)."""
