"""The base class of errors a user can fix.

Every layer raises its own subclass (``ProgramError`` here, ``search.config.ConfigError``,
``discover.errors.ExportError`` above), so the command line can print any of them in one line
with exit code 2 and still let a genuine bug, a plain ``ValueError`` say, keep its traceback.
It lives in the lowest package so that every layer can inherit it without importing upwards.

>>> from primitives import ProgramError, parse
>>> try:
...     parse("def f(w, g):\\n    return g.sum()\\n")
... except UserError as exc:
...     print(type(exc).__name__)
ProgramError
"""

__all__ = ["UserError", "ProgramError", "InvalidValue"]


class UserError(Exception):
    """Bad input (a name, a file, a flag, a setting); the message says what is wrong and how to
    fix it, in one line."""


class ProgramError(UserError, ValueError):
    """A program that is not valid in the language; the message names the line and the problem.

    Defined here, below :mod:`primitives.program` and :mod:`primitives.kinds`, so both can raise
    it without importing each other; ``primitives.program.ProgramError`` is the same class."""


class InvalidValue(UserError, ValueError):
    """A bad name or value given to a function: an unknown suite or task, an empty seed list.
    Also a ``ValueError``, so callers that catch those keep working."""
