"""The base class of errors a user can fix.

Every layer raises its own subclass (``ProgramError`` here, ``search.config.ConfigError``,
``discover.errors.ExportError`` above), so the command line can print any of them in one line
with exit code 2 and still let a genuine bug, a plain ``ValueError`` say, keep its traceback.
It lives in the lowest package so that every layer can inherit it without importing upwards.

>>> from primitives import ProgramError, parse
>>> try:
...     parse("def f(w, g):\n    return g.sum()\n")
... except UserError as exc:
...     print(type(exc).__name__)
ProgramError
"""

__all__ = ["UserError"]


class UserError(Exception):
    """Bad input (a name, a file, a flag, a setting); the message says what is wrong and how to
    fix it, in one line."""
