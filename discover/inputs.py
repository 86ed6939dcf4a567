"""Inputs checked before any work: a program that will not run is refused in one line.

Parsing already checks a program's form and the kind of every value; :func:`checked_program`
adds :func:`primitives.check_valid`, which runs one step on small probe tensors, so a program
that parses but cannot run (``matmul(g, g)`` on a non-square parameter, an update of the wrong
shape) is a :class:`~primitives.ProgramError` within milliseconds instead of a traceback after
minutes of training. A program identical to a library entry (same structural hash) is accepted
as the library has it: the library is verified against reference implementations, and a few
entries keep states that are not shaped like the parameter (GaLore's projection), which
``check_valid`` refuses for search children.

>>> checked_program("adamw").name
'adamw'
"""

from __future__ import annotations

from functools import lru_cache

from primitives import Program, ProgramError, check_valid, structural_hash

from .library import REGISTRY
from .programs import resolve

__all__ = ["checked_program"]


def checked_program(ref) -> Program:
    """:func:`discover.programs.resolve` ``ref``, then refuse it unless it can run."""
    program = resolve(ref)
    try:
        check_valid(program)
    except ProgramError as exc:
        if structural_hash(program) in _library_hashes():
            return program
        where = str(ref) if isinstance(ref, str) and "\n" not in ref else "program source"
        raise ProgramError(f"{where}: cannot run: {exc}") from None
    return program


@lru_cache(maxsize=1)
def _library_hashes() -> frozenset:
    """Structural hashes of the library's programs (computed once, when first needed)."""
    return frozenset(structural_hash(entry.program) for entry in REGISTRY.values())
