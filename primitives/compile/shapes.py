"""Shape classes: what the planner knows about a value's shape without knowing the parameter's.

A class is a term: :data:`FULL` (the parameter's shape), None (0-d), or ``(rule, *classes)`` for
a matrix op's result (``("row", FULL)``: the shape of ``row_mean(w)``) or a broadcast
(``("join", ...)``). Equal classes mean equal shapes at run time; that is all the planner relies
on (to write a result into a dead tensor of the same shape).
"""

from __future__ import annotations

__all__ = ["FULL", "within", "join"]

#: shape class of a parameter-shaped tensor (see _join); None is the class of 0-d tensors
FULL = "F"
#: matrix-op shape rules whose result broadcasts back into their argument (dims kept as 1)
_REDUCING = {"row", "col", "unit", "mnorm"}


def within(b, a) -> bool:
    """Does a tensor of shape class ``b`` broadcast into one of class ``a`` unchanged?"""
    if b is None or b == a:
        return True
    if isinstance(b, tuple) and b[0] in _REDUCING:
        return within(b[1], a)
    return isinstance(b, tuple) and b[0] == "join" and all(within(x, a) for x in b[1:])


def join(a, b):
    """The shape class of a broadcast of classes ``a`` and ``b``.

    A class is a term: ``"F"`` (the parameter's shape), None (0-d), or ``(rule, *classes)`` for
    a matrix op's result (``("row", "F")``: the shape of ``row_mean(w)``) or a broadcast
    (``("join", ...)``). Equal terms mean equal shapes at run time, which is all the planner
    relies on (to write a result into a dead tensor of the same shape); unequal terms may still
    be equal shapes (``row_mean`` of a vector), which only costs an allocation.
    """
    if within(b, a):
        return a
    if within(a, b):
        return b
    members = set(a[1:] if isinstance(a, tuple) and a[0] == "join" else (a,)) | \
        set(b[1:] if isinstance(b, tuple) and b[0] == "join" else (b,))
    keep = [m for m in members if not any(m != o and within(m, o) for o in members)]
    return keep[0] if len(keep) == 1 else ("join",) + tuple(sorted(keep, key=repr))
