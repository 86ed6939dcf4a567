"""Random programs for property tests and fuzzing.

Tests of the language need programs nobody wrote: a fuzz loop that feeds every op every kind of
value (:func:`random_program` with ``kinds=False``) and a differential test that runs valid
programs through every execution path (:func:`covering_programs`, which uses every op of the
registry across the set). Both draw from a ``random.Random`` only, so a seed gives the same
programs on every machine and in every run. This module depends on nothing above
:mod:`primitives` (the search's mutation operators are not needed to draw a program).

Example::

    >>> import random
    >>> p = random_program(random.Random(0), length=4, require=("global_norm",))
    >>> "global_norm" in {s.op for s in p.body}
    True
"""

from __future__ import annotations

import random
from typing import Sequence

from .analysis import check_valid
from .errors import ProgramError
from .kinds import RESERVED_INPUTS, Kind, result_kind
from .ops import OPS
from .program import Param, Program, Stmt

__all__ = ["STATE_NAMES", "HYPERPARAMETERS", "random_signature", "random_program",
           "covering_programs"]

#: names of the state arguments a random signature may have, in order
STATE_NAMES = ("m", "v", "s")
#: hyperparameters a random signature may have, with their defaults (``lr`` always)
HYPERPARAMETERS = {"lr": 0.1, "beta": 0.9, "wd": 0.01, "c": 0.5}


def random_signature(rng: random.Random) -> tuple[Param, ...]:
    """``w, g``, 0-3 states (start values: zero, a number, a hyperparameter or ``w``), a random
    subset of the reserved inputs, ``lr`` and a random subset of the other hyperparameters."""
    hypers = ["lr"] + [h for h in list(HYPERPARAMETERS)[1:] if rng.random() < 0.5]
    params = [Param("w", "weight"), Param("g", "grad")]
    for name in STATE_NAMES[:rng.choice((0, 1, 1, 2, 2, 3))]:
        init = rng.choice((None, None, None, 1.0, -0.5, "w", rng.choice(hypers)))
        params.append(Param(name, "state", init=init))
    params += [Param(n, "input") for n in RESERVED_INPUTS if rng.random() < 0.5]
    params += [Param(h, "hyper", default=HYPERPARAMETERS[h]) for h in hypers]
    return tuple(params)


def _pick(rng: random.Random, values: Sequence[str]) -> str:
    """A value, biased to the last few defined (so most statements feed the next ones)."""
    if len(values) > 4 and rng.random() < 0.6:
        return rng.choice(values[-4:])
    return rng.choice(values)


def _constant(rng: random.Random) -> float:
    return round(rng.gauss(0.0, 1.0), 3)


def _arguments(op, rng: random.Random, kinds: dict[str, Kind], aware: bool,
               constant_prob: float) -> tuple:
    """Arguments for ``op``: of the kinds its positions take when ``aware``, else any value."""
    names = list(kinds)
    numbers = dict(op.numbers)
    args = []
    for pos in range(op.arity):
        if pos in op.lists and aware:
            args.append(_pick(rng, [n for n in names if kinds[n] is Kind.TENSOR]))
        elif op.kind == "group_reduction" and aware:
            others = [n for n in names if kinds[n] is not Kind.TENSOR]
            use_name = others and rng.random() < 0.5
            args.append(rng.choice(others) if use_name else float(numbers.get(pos, 1.0)))
        elif pos in numbers and (aware or rng.random() < 0.5):
            args.append(float(numbers[pos]))
        elif rng.random() < constant_prob:
            args.append(_constant(rng))
        elif rng.random() < 0.4:  # per-parameter values, so most programs compute on tensors
            args.append(_pick(rng, [n for n in names if kinds[n] is Kind.TENSOR]))
        else:
            args.append(_pick(rng, names))
    return tuple(args)


def random_program(rng: random.Random, length: int = 6, ops: Sequence[str] | None = None, *,
                   require: Sequence[str] = (), kinds: bool = True, constant_prob: float = 0.2,
                   name: str = "random") -> Program:
    """A random program: a :func:`random_signature` and ``length`` statements over ``ops``
    (default: every op of the registry), each op of ``require`` among them.

    With ``kinds`` (the default) every argument has a kind its position takes
    (:mod:`primitives.kinds`): a group reduction reads tensors, an op's number positions get the
    op's typical value; shapes are not checked, so :func:`primitives.check_valid` may still
    reject the program. With ``kinds=False`` any value goes anywhere: most such programs are
    invalid, which is what a fuzz test of the checks wants. The update is often ``lr * x`` for
    the last value ``x``; each state comes back as a value of the body (mostly a per-parameter
    one) or unchanged.
    """
    ops = tuple(OPS) if ops is None else tuple(ops)
    params = random_signature(rng)
    values = {p.name: (RESERVED_INPUTS[p.name] if p.role == "input" else
                       Kind.SCALAR if p.role == "hyper" else Kind.TENSOR) for p in params}
    chosen = [rng.choice(ops) for _ in range(max(length, len(require)) - len(require))]
    for op_name in require:
        chosen.insert(rng.randint(0, len(chosen)), op_name)
    body = []
    for i, op_name in enumerate(chosen):
        op = OPS[op_name]
        args = _arguments(op, rng, values, kinds, constant_prob)
        target = f"x{i + 1}"
        arg_kinds = [values[a] if isinstance(a, str) else Kind.SCALAR for a in args]
        values[target] = result_kind(op_name, arg_kinds)
        body.append(Stmt(target, op_name, args))
    last = body[-1].target if body else "g"
    if rng.random() < 0.8:
        body.append(Stmt("update", "mul", ("lr", last)))
        values["update"] = result_kind("mul", [Kind.SCALAR, values[last]])
        last = "update"
    states = [p.name for p in params if p.role == "state"]
    returns = [last] + [_new_state(rng, body, values, n) for n in states]
    return Program(name, params, tuple(body), tuple(returns))


def _new_state(rng: random.Random, body: list[Stmt], kinds: dict[str, Kind], name: str) -> str:
    """What state ``name`` becomes: mostly a per-parameter value of the body, sometimes any
    value (a scalar or group value: a 0-d state), sometimes itself (unchanged)."""
    tensors = [s.target for s in body if kinds[s.target] is Kind.TENSOR]
    draw = rng.random()
    if tensors and draw < 0.85:
        return rng.choice(tensors)
    if body and draw < 0.92:
        return rng.choice(body).target
    return name


def covering_programs(count: int, seed: int = 0, length: int = 6,
                      ops: Sequence[str] | None = None) -> list[Program]:
    """``count`` programs that pass :func:`primitives.check_valid`, the i-th using op
    ``ops[i % len(ops)]`` (default: every op of the registry, so any ``count >= len(OPS)``
    covers the registry). The same ``seed`` gives the same programs."""
    ops = tuple(OPS) if ops is None else tuple(ops)
    rng = random.Random(seed)
    programs = []
    for i in range(count):
        while True:  # redraw (same required op) until valid; a bounded number of tries in practice
            p = random_program(rng, length, require=(ops[i % len(ops)],), name=f"random{i}")
            try:
                check_valid(p)
            except ProgramError:
                continue
            programs.append(p)
            break
    return programs
