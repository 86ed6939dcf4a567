"""The out-of-place form of a program, for K copies and for B different programs at once.

The batched trainer needs a step it can run under ``torch.func.vmap`` (one copy per learning
rate and seed, per-copy hyperparameters as batched 0-d tensors) and whose result it can mask per
copy (a diverged copy keeps its old weights). In-place fused kernels do not fit that: their
factors must be Python numbers and they branch on values. So the compiler also writes each
program as one straight-line, pure function: every statement is a call of its op's registry
function (:data:`primitives.ops.OPS`, which calls the kernels of :mod:`primitives.kernels`), with
each value's kind resolved at compile time (:class:`~primitives.compile.ir.StepIR`): a scalar
statement is one call, a group reduction one call over the group's lists, a per-tensor statement
one call per tensor. It computes exactly what :meth:`primitives.Executor.update` computes (the
same functions in the same order), without the interpreter's lookups.

:class:`PopulationStep` steps B different programs together: the stacked copies of every program
are cut into each program's slice, each program steps its own slice, and the results are joined
again, so one vmapped loss and gradient serve the whole population.

Example::

    >>> import torch
    >>> from primitives import parse
    >>> step = load_pure(parse("def sgd(w, g, lr=0.1):\\n    return lr * g"))
    >>> upd, state = step([torch.ones(2)], [torch.ones(2)], {}, {"lr": 0.5}, t=1)
    >>> upd[0]
    tensor([0.5000, 0.5000])
"""

from __future__ import annotations

import functools
import math
from typing import Mapping, Sequence

import torch

from ..ops import OPS
from ..program import Program
from .ir import StepIR
from .step import exec_source

__all__ = ["scalar_call", "pure_source", "load_pure", "PopulationStep"]


def scalar_call(fn, *args):
    """An op on scalars: Python numbers are computed as float64 tensors (torch's IEEE semantics:
    ``1 / 0`` is inf, never an exception) and come back as a Python float; an argument that is
    a tensor (a batched hyperparameter, a group value) keeps the result a tensor.

    Results on Python numbers are remembered (a step recomputes ``1 - beta1`` and the like with
    the same numbers every time; an evaluation runs thousands of steps)."""
    if all(not isinstance(a, torch.Tensor) for a in args):
        # the sign with each number: -0.0 == 0.0, but 1 / -0.0 is not 1 / 0.0
        return _on_floats(fn, tuple((a, math.copysign(1.0, a)) for a in args))
    return fn(*args)


@functools.lru_cache(maxsize=65536)
def _on_floats(fn, args: tuple) -> float:
    return float(fn(*(torch.as_tensor(a, dtype=torch.float64) for a, _ in args)))


def _arg(ir: StepIR, a, looped: set) -> str:
    if not isinstance(a, str):
        return repr(float(a))
    return f"{a}[_i]" if a in looped else a


def pure_source(program: Program) -> str:
    """``def _pure_<name>(w, g, state, hyper, t, loss, h)``: the program as straight-line calls.

    ``w``, ``g``, ``h`` and each state are lists (one tensor per parameter); the function
    returns ``(updates, {state: list})`` as :meth:`primitives.Executor.update` does.
    """
    ir = StepIR(program)
    name = program.name
    # the function's own names start with "_": program names never do (StepIR renames them)
    lines = [f"def _pure_{name}(w, g, _state, _hyper, _t, _loss, _h):",
             f'    """One out-of-place step of ``{name}`` over a group (lists of tensors)."""',
             "    _n = len(w)"]
    ident = ir.ident
    for p in program.params[2:]:
        i = ident[p.name]
        src = {"state": f'list(_state["{p.name}"])', "hyper": f'_hyper["{p.name}"]'}.get(
            p.role, "list(_h)" if p.name == "h" else f"_{p.name}")
        lines.append(f"    {i} = {src}")
    listed = {"w", "g"} | {ident[p.name] for p in program.params
                           if p.role == "state" or p.name == "h"}
    for s in program.body:
        target, op = ident[s.target], OPS[s.op]
        args = [ident[a] if isinstance(a, str) else a for a in s.args]
        fn = f"_op_{s.op}"
        if op.kind == "group_reduction":
            call = f"{fn}({', '.join(_arg(ir, a, set()) for a in args)})"
            if ir.kinds.get(target) == "T" or s.op == "clip_by_global_norm":
                listed.add(target)
        elif any(isinstance(a, str) and a in listed for a in args):
            call = (f"[{fn}({', '.join(_arg(ir, a, listed) for a in args)}) "
                    "for _i in range(_n)]")
            listed.add(target)
        else:
            call = f"_scalar({fn}{''.join(', ' + _arg(ir, a, set()) for a in args)})"
        lines.append(f"    {target} = {call}")
    outs = [ident[r] if isinstance(r, str) else repr(float(r)) for r in program.returns]
    outs = [o if o in listed else f"[{o}] * _n" for o in outs]
    states = ", ".join(f'"{p.name}": {o}' for p, o in zip(
        [p for p in program.params if p.role == "state"], outs[1:]))
    lines.append(f"    return {outs[0]}, {{{states}}}")
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=2048)
def load_pure(program: Program):
    """The function of :func:`pure_source`, loaded; called as
    ``f(params, grads, state, hyper, t=1, loss=None, h=None) -> (updates, new_state)``."""
    text, ops = pure_source(program), {s.op for s in program.body}
    filename = f"<discover pure {program.name} {abs(hash(text)):x}>"
    namespace = {f"_op_{op}": OPS[op].fn for op in ops}
    namespace["_scalar"] = scalar_call
    exec_source(text, filename, namespace)
    fn = namespace[f"_pure_{program.name}"]

    def step(params, grads, state, hyper, t=1, loss=None, h=None):
        return fn(list(params), list(grads), state, hyper, t, loss, h)

    return step


class PopulationStep:
    """B programs stepped together over stacked copies: program b owns ``counts[b]`` copies.

    Tensors carry a leading copy dim (the sum of ``counts``); :meth:`__call__` cuts every
    tensor and per-copy hyperparameter into each program's slice, runs that program's
    ``step(params, grads, state, hyper, ...)`` (typically a vmapped :func:`load_pure`) on it, and
    joins the updates again. State stays per program (its names and shapes are the program's).
    """

    def __init__(self, steps: Sequence, counts: Sequence[int]):
        if len(steps) != len(counts):
            raise ValueError("one copy count per program")
        self.steps, self.counts = list(steps), list(counts)
        bounds = [0]
        for c in self.counts:
            bounds.append(bounds[-1] + c)
        self.slices = [slice(a, b) for a, b in zip(bounds, bounds[1:])]

    def __call__(self, params, grads, states: Sequence[Mapping], hypers: Sequence[Mapping],
                 t=1, loss=None, h=None):
        """``(updates, [new_state per program])``; ``loss`` / ``h`` carry the copy dim too."""
        updates, new_states = [], []
        for step, cut, state, hyper in zip(self.steps, self.slices, states, hypers):
            part = lambda xs: None if xs is None else [x[cut] for x in xs]  # noqa: E731
            upd, new = step(part(params), part(grads), state, hyper, t,
                            None if loss is None else loss[cut], part(h))
            updates.append(upd)
            new_states.append(new)
        return [torch.cat(parts) for parts in zip(*updates)], new_states
