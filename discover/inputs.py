"""Inputs checked before any work: a program that will not run is refused in one line.

Parsing already checks a program's form and the kind of every value; :func:`checked_program`
adds :func:`primitives.check_valid`, which runs one step on small probe tensors, so a program
that parses but cannot run (``matmul(g, g)`` on a non-square parameter, an update of the wrong
shape) is a :class:`~primitives.ProgramError` within milliseconds instead of a traceback after
minutes of training.

>>> checked_program("adamw").name
'adamw'
"""

from __future__ import annotations

from primitives import Program, ProgramError, check_valid

from .programs import resolve

__all__ = ["checked_program"]


def checked_program(ref) -> Program:
    """:func:`discover.programs.resolve` ``ref``, then refuse it unless it can run."""
    program = resolve(ref)
    try:
        check_valid(program)
    except ProgramError as exc:
        where = str(ref) if isinstance(ref, str) and "\n" not in ref else "program source"
        raise ProgramError(f"{where}: cannot run: {exc}") from None
    return program

