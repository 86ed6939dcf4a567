"""Mutations of SSA programs: insert, delete, modify, perturb a constant (the Lion search's moves).

One mutation changes one thing (Chen et al., 2023, section 2.2; ``google/automl`` hero/core.py):

- **insert**: a new statement ``v = op(a, b)`` at a random position, with a random search op and
  arguments drawn from the values defined before that position (parameters, earlier statements)
  or a constant ~ N(0, 1). With probability ``overwrite_prob`` the new value *replaces* an existing
  value for everything after it, the SSA form of Lion's ``x = f(...)`` overwriting a variable;
  otherwise it is dead code, scaffolding that a later modify can wire in. With probability
  ``inplace_prob`` an overwriting insertion takes the value it replaces as its first argument
  (``m_1 = interp(m, g, 0.9)``): the program grows by transforming live values.
- **delete**: a random statement goes; later uses of its target are re-pointed to one of its own
  variable arguments (so deleting ``m_1 = interp(g, m, b)`` leaves ``m``), or, for a statement with
  none, to another value defined before it.
- **modify**: one argument of one statement (another earlier value or a constant), the op of a
  statement (another search op of the same arity), or one returned position (update or a state).
- **smooth** (off unless weighted): a state becomes a moving average of a value,
  ``s_1 = interp(x, s, beta)``, and half the time one later use of ``x`` reads it instead, so an
  accumulator (momentum, a second moment) appears in one move instead of three rare ones.
- **constant**: one numeric constant, a literal in a statement or a hyperparameter default, is
  multiplied by ``2 ** N(0, 1)`` or resampled from N(0, 1) (clamped to +-1e10, as Hero does).
  Hyperparameters the evaluation sets itself (``lr`` under a learning-rate grid) are left alone.

:func:`mutate_valid` re-mutates the *parent* until the child passes
:func:`primitives.check_valid` and, when the settings ask, :func:`primitives.check_lr_scaling`
(the update stays proportional to ``lr``) and :func:`primitives.check_reads_gradient`, within
bounded attempts, and counts the invalid attempts. All randomness comes from the
``random.Random`` passed in.

Example::

    >>> import random
    >>> from primitives import parse, is_valid
    >>> p = parse("def f(w, g, m, lr=0.1):\\n    m = interp(g, m, 0.9)\\n    return lr * m, m")
    >>> child, info = mutate_valid(p, random.Random(0))
    >>> is_valid(child) and child != p
    True
"""

from __future__ import annotations

import keyword
import random
from dataclasses import dataclass, field, replace

from primitives import (OPS, Program, ProgramError, Stmt, check_lr_scaling, check_reads_gradient,
                        check_valid)
from primitives.program import RESERVED_INPUTS

__all__ = ["MUTATION_KINDS", "SEARCH_OPS", "MutationSettings", "MutationInfo", "mutate",
           "mutate_valid", "random_program", "perturb_constant"]

MUTATION_KINDS = ("insert", "delete", "modify", "constant", "smooth")

#: the search's default op set: every registry op marked ``search=True``
SEARCH_OPS = tuple(name for name, op in OPS.items() if op.search)

#: constants stay within +-CONSTANT_LIMIT (Hero's Atom.mutate clamp)
CONSTANT_LIMIT = 1e10


@dataclass(frozen=True)
class MutationSettings:
    """How children are drawn from a parent."""

    ops: tuple[str, ...] = SEARCH_OPS
    """ops an insertion or an op change may use"""
    weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 0.0)
    """relative odds of insert, delete, modify, constant and smooth (4 numbers: smooth 0)"""
    max_length: int = 30
    """no insertion once the body has this many statements (Hero's max_program_len)"""
    max_attempts: int = 100
    """re-mutations of the parent before giving up and returning it unchanged"""
    frozen: tuple[str, ...] = ("lr",)
    """hyperparameters the evaluation sets (never perturbed)"""
    overwrite_prob: float = 0.5
    """chance that an inserted value replaces an existing value for the statements after it"""
    constant_prob: float = 0.2
    """chance that an inserted or modified argument is a fresh constant ~ N(0, 1)"""
    scale_prob: float = 0.5
    """chance that a constant mutation multiplies by 2**N(0,1) rather than resampling N(0,1)"""
    lr_proportional: bool = False
    """children must also pass :func:`primitives.check_lr_scaling` (update proportional to lr);
    ``lr`` is then never drawn as a new argument (almost every such child would fail)"""
    needs_gradient: bool = False
    """children must also pass :func:`primitives.check_reads_gradient` (the update reads g)"""
    inplace_prob: float = 0.0
    """chance that an overwriting insertion transforms the value it replaces (``x_1 = op(x,
    ...)``, Lion's ``x = f(x, ...)``) instead of drawing every argument at random"""

    def __post_init__(self):
        unknown = [op for op in self.ops if op not in OPS]
        if unknown:
            raise ValueError(f"unknown op(s) {unknown} in the mutation op set")
        if len(self.weights) == 4:
            object.__setattr__(self, "weights", (*self.weights, 0.0))
        if len(self.weights) != 5 or min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ValueError(f"mutation weights must be 4 or 5 non-negative numbers, not all 0: "
                             f"{self.weights}")
        if self.max_length < 1 or self.max_attempts < 1:
            raise ValueError("max_length and max_attempts must be >= 1")


@dataclass
class MutationInfo:
    """What :func:`mutate_valid` did: the kind of the accepted mutation and the failed tries."""

    kind: str = "none"
    invalid: int = 0
    failed: bool = False  # every attempt was invalid: the child is the parent
    errors: list[str] = field(default_factory=list)  # first line of each invalid attempt's error


# ---- helpers ------------------------------------------------------------------------------------


def _defined_before(program: Program, index: int) -> list[str]:
    """Names usable by statement ``index``: every parameter, then earlier targets."""
    return [p.name for p in program.params] + [s.target for s in program.body[:index]]


def _fresh_name(program: Program, base: str | None = None) -> str:
    """An unused, parseable SSA name: ``base_k`` for a replacement of ``base``, else ``vk``."""
    taken = {p.name for p in program.params} | {s.target for s in program.body}
    stem = f"{base.rstrip('0123456789_') or 'v'}_" if base else "v"
    k = 1
    while True:
        name = f"{stem}{k}"
        if name not in taken and name not in OPS and name not in RESERVED_INPUTS \
                and not keyword.iskeyword(name):
            return name
        k += 1


def _clamp(x: float) -> float:
    return float(min(max(x, -CONSTANT_LIMIT), CONSTANT_LIMIT))


def _new_constant(rng: random.Random) -> float:
    return _clamp(rng.gauss(0.0, 1.0))


def perturb_constant(value: float, rng: random.Random, scale_prob: float = 0.5) -> float:
    """``value * 2**N(0,1)`` with probability ``scale_prob``, else a fresh N(0, 1) draw."""
    if rng.random() < scale_prob:
        return _clamp(float(value) * 2.0 ** rng.gauss(0.0, 1.0))
    return _new_constant(rng)


def _random_arg(values: list[str], rng: random.Random, settings: MutationSettings):
    if settings.lr_proportional and "lr" in settings.frozen:
        values = [v for v in values if v != "lr"]
    if not values or rng.random() < settings.constant_prob:
        return _new_constant(rng)
    return rng.choice(values)


def _replace_uses(program: Program, old: str, new, start: int) -> Program:
    """Re-point every use of ``old`` in statements from ``start`` on, and in the returns."""
    body = list(program.body)
    for i in range(start, len(body)):
        s = body[i]
        if old in s.args:
            body[i] = replace(s, args=tuple(new if a == old else a for a in s.args))
    returns = tuple(new if a == old else a for a in program.returns)
    return replace(program, body=tuple(body), returns=returns)


# ---- the four mutations -----------------------------------------------------------------------


def _insert(program: Program, rng: random.Random, settings: MutationSettings) -> Program:
    index = rng.randint(0, len(program.body))
    values = _defined_before(program, index)
    op = OPS[rng.choice(settings.ops)]
    args = tuple(_random_arg(values, rng, settings) for _ in range(op.arity))
    replaced = rng.choice(values) if rng.random() < settings.overwrite_prob else None
    if replaced is not None and op.arity and rng.random() < settings.inplace_prob:
        args = (replaced, *args[1:])
    target = _fresh_name(program, replaced)
    body = program.body[:index] + (Stmt(target, op.name, args),) + program.body[index:]
    child = replace(program, body=body)
    if replaced is not None:
        child = _replace_uses(child, replaced, target, index + 1)
    return child


def _delete(program: Program, rng: random.Random, settings: MutationSettings) -> Program:
    index = rng.randrange(len(program.body))
    s = program.body[index]
    own = [a for a in s.args if isinstance(a, str)]
    substitute = rng.choice(own) if own else rng.choice(_defined_before(program, index))
    child = replace(program, body=program.body[:index] + program.body[index + 1:])
    return _replace_uses(child, s.target, substitute, index)


def _modify(program: Program, rng: random.Random, settings: MutationSettings) -> Program:
    slots = [("ret", j, None) for j in range(len(program.returns))]
    for i, s in enumerate(program.body):
        slots += [("arg", i, k) for k in range(len(s.args))]
        if any(OPS[name].arity == OPS[s.op].arity and name != s.op for name in settings.ops):
            slots.append(("op", i, None))
    where, i, k = rng.choice(slots)
    if where == "ret":
        everything = _defined_before(program, len(program.body))
        choices = [v for v in everything if v != program.returns[i]]
        returns = list(program.returns)
        returns[i] = rng.choice(choices)
        return replace(program, returns=tuple(returns))
    s = program.body[i]
    if where == "op":
        same = [n for n in settings.ops if OPS[n].arity == OPS[s.op].arity and n != s.op]
        new = replace(s, op=rng.choice(same))
    else:
        args = list(s.args)
        values = [v for v in _defined_before(program, i) if v != args[k]]
        args[k] = _random_arg(values, rng, settings)
        new = replace(s, args=tuple(args))
    return replace(program, body=program.body[:i] + (new,) + program.body[i + 1:])


def _constant_slots(program: Program, settings: MutationSettings) -> list[tuple]:
    slots = [("hyper", p.name, None) for p in program.params
             if p.role == "hyper" and p.name not in settings.frozen]
    for i, s in enumerate(program.body):
        slots += [("arg", i, k) for k, a in enumerate(s.args) if not isinstance(a, str)]
    return slots


def _constant(program: Program, rng: random.Random, settings: MutationSettings) -> Program:
    where, i, k = rng.choice(_constant_slots(program, settings))
    if where == "hyper":
        params = tuple(replace(p, default=perturb_constant(p.default, rng, settings.scale_prob))
                       if p.name == i else p for p in program.params)
        return replace(program, params=params)
    s = program.body[i]
    args = list(s.args)
    args[k] = perturb_constant(args[k], rng, settings.scale_prob)
    return replace(program, body=program.body[:i] + (replace(s, args=tuple(args)),)
                   + program.body[i + 1:])


def _definition(program: Program, name: str) -> int:
    """Index of the statement defining ``name`` (-1 for a parameter)."""
    for i, s in enumerate(program.body):
        if s.target == name:
            return i
    return -1


def _smooth(program: Program, rng: random.Random, settings: MutationSettings) -> Program:
    """A state becomes a moving average of a value: ``s_1 = interp(x, s, beta)`` is returned as
    the state, with ``beta = 1 - 10**-U(0.5, 3)``; half the time one later use of ``x`` then
    reads the average instead (``lr * g`` -> ``lr * m_1``: momentum in one move)."""
    j = rng.randrange(len(program.state_names))
    current = program.returns[1 + j]
    frozen = set(settings.frozen) | {"w", current}
    values = [v for v in ["g"] + [s.target for s in program.body] if v not in frozen]
    x = rng.choice(values)
    at = max(_definition(program, x), _definition(program, current)) + 1
    beta = 1.0 - 10.0 ** -rng.uniform(0.5, 3.0)
    target = _fresh_name(program, program.state_names[j])
    body = program.body[:at] + (Stmt(target, "interp", (x, current, beta)),) + program.body[at:]
    returns = list(program.returns)
    returns[1 + j] = target
    uses = [(i, k) for i in range(at + 1, len(body)) for k, a in enumerate(body[i].args)
            if a == x]
    if uses and rng.random() < 0.5:
        i, k = rng.choice(uses)
        args = list(body[i].args)
        args[k] = target
        body = body[:i] + (replace(body[i], args=tuple(args)),) + body[i + 1:]
    return replace(program, body=body, returns=tuple(returns))


_MUTATIONS = {"insert": _insert, "delete": _delete, "modify": _modify, "constant": _constant,
              "smooth": _smooth}


def _possible(program: Program, settings: MutationSettings) -> list[tuple[str, float]]:
    ok = {"insert": len(program.body) < settings.max_length,
          "delete": len(program.body) > 0,
          "modify": True,
          "constant": bool(_constant_slots(program, settings)),
          "smooth": bool(program.state_names) and len(program.body) < settings.max_length}
    return [(kind, w) for kind, w in zip(MUTATION_KINDS, settings.weights) if ok[kind] and w > 0]


def mutate(program: Program, rng: random.Random,
           settings: MutationSettings = MutationSettings()) -> tuple[Program, str]:
    """One random mutation of ``program`` (possibly invalid): ``(child, kind)``.

    The kind is drawn with ``settings.weights`` among the mutations that apply (no insertion at
    the length cap, no deletion of an empty body, no constant mutation without constants).
    """
    kinds = _possible(program, settings)
    kind = rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
    child = _MUTATIONS[kind](program, rng, settings)
    return replace(child, doc=""), kind


def mutate_valid(program: Program, rng: random.Random,
                 settings: MutationSettings = MutationSettings()) -> tuple[Program, MutationInfo]:
    """Re-mutate ``program`` until a child differs from it and passes ``check_valid``.

    Returns ``(child, info)``; ``info.invalid`` counts the invalid attempts. After
    ``settings.max_attempts`` attempts the parent itself comes back with ``info.failed = True``.
    """
    info = MutationInfo()
    for _ in range(settings.max_attempts):
        child, kind = mutate(program, rng, settings)
        if child.body == program.body and child.returns == program.returns \
                and child.params == program.params:
            continue  # e.g. a hyperparameter perturbed to itself: not a new program
        try:
            check_valid(child)
            if settings.lr_proportional:
                check_lr_scaling(child)
            if settings.needs_gradient:
                check_reads_gradient(child)
        except ProgramError as exc:
            info.invalid += 1
            info.errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            continue
        info.kind = kind
        return child, info
    info.failed = True
    return program, info


def random_program(template: Program, rng: random.Random, length: int,
                   settings: MutationSettings = MutationSettings(),
                   name: str = "random") -> Program:
    """A random valid program with ``template``'s signature and about ``length`` statements.

    Starts from the identity-like body (update ``g``, every state returned unchanged) and applies
    ``length`` valid insertions, each replacing an existing value for the statements after it, so
    most of them are wired in rather than dead.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    program = replace(template, name=name, doc="", body=(),
                      returns=("g", *template.state_names))
    inserts = replace(settings, weights=(1.0, 0.0, 0.0, 0.0), overwrite_prob=1.0,
                      max_length=max(settings.max_length, length + 1))
    for _ in range(length):
        program, _ = mutate_valid(program, rng, inserts)
    return program
