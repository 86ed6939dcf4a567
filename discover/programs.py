"""Turning what a user names into a :class:`~primitives.Program`.

:func:`resolve` accepts a ``Program``, program source, a ``.py`` file holding one program, or a
library name, which is what every command that takes a program accepts (``export``, ``eval``,
``search``'s start and baseline). Anything it cannot resolve is an :class:`ExportError` (a
:class:`UserError`) in one line.

>>> resolve("lion").name
'lion'
>>> resolve("def f(w, g, lr=0.1):\\n    return lr * g\\n").hyperparameters
{'lr': 0.1}
>>> resolve("lino")
Traceback (most recent call last):
    ...
discover.errors.ExportError: unknown optimizer 'lino'; did you mean lion...?
"""

from __future__ import annotations

from pathlib import Path

from primitives import Program, ProgramError, parse

from .errors import ExportError

__all__ = ["resolve", "load_program"]


def resolve(source) -> Program:
    """A :class:`Program` from a Program, program source, a ``.py`` file or a library name."""
    if isinstance(source, Program):
        return source
    if not isinstance(source, (str, Path)):
        raise ExportError(f"expected a program, its source, a .py file or a library name, "
                          f"got {type(source).__name__}")
    text = str(source)
    if "\n" in text.strip() or text.lstrip().startswith("def "):
        return _parse(text, "program source")
    path = Path(text)
    if text.endswith(".py") or path.is_file():
        try:
            return _parse(path.read_text(), text)
        except OSError as exc:
            raise ExportError(f"cannot read {text}: {exc.strerror or exc}") from None
    try:
        from .library import get  # noqa: PLC0415 - the library is loaded only for a name
    except ImportError as exc:
        raise ExportError(f"unknown optimizer {text!r} (no library: {exc})") from None
    try:
        return get(text).program
    except KeyError as exc:
        raise ExportError(str(exc.args[0]) if exc.args else f"unknown optimizer {text!r}") from None


#: the older name, still used by callers that load a program to export or score it
load_program = resolve


def _parse(source: str, where: str) -> Program:
    try:
        return parse(source)
    except ProgramError as exc:
        raise ProgramError(f"{where}: {exc}") from None
