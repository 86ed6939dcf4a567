"""Value kinds: what each value of a program is, checked before anything runs.

Every value of a program is one of three kinds (DESIGN.md section 2):

- :attr:`Kind.SCALAR`: one number per step, the same for every tensor: hyperparameters, ``t``,
  ``loss``, constants, and statements over only those (``1 - beta1 ** t``).
- :attr:`Kind.TENSOR`: one tensor per parameter: ``w``, ``g``, state, ``h``, and anything
  computed from them (a per-tensor reduction such as ``norm(g)`` is one value per tensor, so it
  is a TENSOR too).
- :attr:`Kind.GROUP`: one 0-d value shared by every tensor of a parameter group: the result of
  a group reduction (``global_norm(g)``), and statements over group values and scalars.

The rules, the same the fused step and the exporter rely on:

- a group reduction's list positions (:attr:`primitives.ops.Op.lists`, e.g. both arguments of
  ``global_dot``) take a TENSOR, and its other arguments (``clip_by_global_norm``'s ``c``) must
  not be one; its result is GROUP, or TENSOR for an op whose result is per tensor
  (:attr:`~primitives.ops.Op.per_tensor_result`: ``clip_by_global_norm`` returns the list
  scaled);
- an op's number positions (:attr:`~primitives.ops.Op.numbers`: Newton-Schulz steps, the
  exponent of ``spd_power``, the rank of ``svd_left``) take a SCALAR: a constant or a value
  computed from hyperparameters and inputs, never a group value or a tensor;
- any other statement is TENSOR if an argument is, else GROUP if an argument is, else SCALAR.

A program that breaks a rule would otherwise fail deep inside a step with a TypeError (a group
reduction iterating over a number) or silently differ between execution paths; here it is a
:class:`~primitives.errors.ProgramError` that names the line.

Example::

    >>> from primitives import parse
    >>> kinds = value_kinds(parse("def f(w, g, lr=0.1):\\n    n = global_norm(g)\\n"
    ...                           "    return lr * g / n"))
    >>> kinds["n"], kinds["lr"], kinds["tmp2"]
    (<Kind.GROUP: 'group'>, <Kind.SCALAR: 'scalar'>, <Kind.TENSOR: 'tensor'>)
    >>> parse("def f(w, g, lr=0.1):\\n    return global_norm(lr) * g")
    Traceback (most recent call last):
    ...
    primitives.errors.ProgramError: line 2: global_norm(lr): argument 1 must be a per-parameter \
tensor (w, g, state, h or a value computed from them), but 'lr' is a scalar
"""

from __future__ import annotations

import enum
from typing import Sequence

from .errors import ProgramError
from .ops import OPS

__all__ = ["Kind", "RESERVED_INPUTS", "ROLE_KINDS", "value_kinds", "result_kind"]


class Kind(enum.Enum):
    """The kind of one value of a program (see the module docstring)."""

    SCALAR = "scalar"
    GROUP = "group"
    TENSOR = "tensor"


#: the inputs the harness provides when a program names them, with their kinds: ``t`` (step
#: count, 1 at the first step), ``loss`` (the minibatch loss), ``h`` (a Hessian-diagonal estimate)
RESERVED_INPUTS: dict[str, Kind] = {"t": Kind.SCALAR, "loss": Kind.SCALAR, "h": Kind.TENSOR}

#: the kind of a parameter by its role (inputs take theirs from :data:`RESERVED_INPUTS`)
ROLE_KINDS = {"weight": Kind.TENSOR, "grad": Kind.TENSOR, "state": Kind.TENSOR,
              "hyper": Kind.SCALAR}

_WHAT = {Kind.SCALAR: "a scalar", Kind.GROUP: "a group value", Kind.TENSOR: "a per-parameter tensor"}
_TENSOR_NEED = "a per-parameter tensor (w, g, state, h or a value computed from them)"
_NUMBER_NEED = ("a number: a constant or a scalar computed from hyperparameters, t and loss "
                "(not a tensor or a group value)")


def _arg_text(a) -> str:
    return a if isinstance(a, str) else repr(float(a))


def _problem(op_name: str, position: int, kind: Kind) -> str | None:
    """Why ``kind`` cannot be argument ``position`` of ``op_name``, or None when it can."""
    op = OPS[op_name]
    if position in op.lists:
        return None if kind is Kind.TENSOR else _TENSOR_NEED
    if op.kind == "group_reduction":  # its other arguments are factors of one group value
        # (clip_by_global_norm's c: a 0-d tensor is fine, so its typical value in Op.numbers
        # does not make it a number position)
        return None if kind is not Kind.TENSOR else (
            "a scalar or a group value (a per-parameter tensor here would need one value per "
            "tensor, but a group reduction gives one for the whole group)")
    if position in dict(op.numbers) and kind is not Kind.SCALAR:
        return _NUMBER_NEED
    return None


def result_kind(op_name: str, arg_kinds: Sequence[Kind]) -> Kind:
    """The kind of ``op_name(*args)`` for arguments of ``arg_kinds`` (assumed allowed)."""
    op = OPS[op_name]
    if op.kind == "group_reduction":
        return Kind.TENSOR if op.per_tensor_result else Kind.GROUP
    if Kind.TENSOR in arg_kinds:
        return Kind.TENSOR
    return Kind.GROUP if Kind.GROUP in arg_kinds else Kind.SCALAR


def _param_kind(program, p) -> Kind:
    if p.role == "input" and p.name in RESERVED_INPUTS:
        return RESERVED_INPUTS[p.name]
    if p.role in ROLE_KINDS:
        return ROLE_KINDS[p.role]
    raise ProgramError(f"{program.name}: parameter {p.name!r} has role {p.role!r}; the roles are "
                       f"weight, grad, state, hyper and input (one of {list(RESERVED_INPUTS)})")


def value_kinds(program, lines: Sequence[int | None] | None = None) -> dict[str, Kind]:
    """Name -> :class:`Kind` for every parameter and statement target of ``program``.

    Raises :class:`ProgramError` for the first statement that gives an op an argument of the
    wrong kind. ``lines`` (one source line per statement, as :func:`primitives.parse` knows them)
    makes the message start ``line N:``; without it the statement is named by its position and
    text (a program built by mutation has no source lines). The program must be well formed
    (known ops, names defined before use), as :func:`primitives.parse` and
    :func:`primitives.check_valid`'s form check ensure.
    """
    kinds = {p.name: _param_kind(program, p) for p in program.params}
    for i, s in enumerate(program.body):
        arg_kinds = [kinds[a] if isinstance(a, str) else Kind.SCALAR for a in s.args]
        for pos, (a, kind) in enumerate(zip(s.args, arg_kinds)):
            need = _problem(s.op, pos, kind)
            if need is not None:
                call = f"{s.op}({', '.join(_arg_text(x) for x in s.args)})"
                line = lines[i] if lines is not None else None
                where = (f"line {line}: {call}" if line is not None else
                         f"{program.name}: statement {i + 1} `{s.target} = {call}`")
                shown = repr(a) if isinstance(a, str) else f"the constant {_arg_text(a)}"
                raise ProgramError(f"{where}: argument {pos + 1} must be {need}, but {shown} "
                                   f"is {_WHAT[kind]}")
        kinds[s.target] = result_kind(s.op, arg_kinds)
    return kinds
