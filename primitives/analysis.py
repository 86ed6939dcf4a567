"""Analysis of programs: dataflow graph, dead code, structural hash, fingerprint, validity.

The search proposes many programs that are invalid, redundant or equivalent to one already
trained. These functions find that out cheaply, before any training (the Lion search's
``HashTracker``/``DependencyTracker`` and the functional-equivalence cache of AutoML-Zero):

- :func:`dataflow_graph`: the program as a ``networkx.DiGraph`` (value -> user edges).
- :func:`eliminate_dead_code`: only the statements the returned values depend on.
- :func:`structural_hash`: *how* the returned values are computed from the inputs; blind to
  variable names, dead statements, the order of independent statements and the operand order of
  commutative ops.
- :func:`fingerprint`: *what* the program computes: a few steps on fixed random tensors, outputs
  rounded to 8 significant digits and hashed, so ``2 * x`` and ``x + x`` agree.
- :func:`check_valid` / :func:`is_valid`: one step on shape probes (:func:`probe_tensor`: CPU
  zeros for these small shapes, ``device="meta"`` for large ones), for a vector, a matrix and a
  conv kernel.
- :func:`adaptivity_exponent`: how the update scales with a per-coordinate rescaling of the
  gradient (1 for SGD and momentum, 0 for Adam and sign rules), on :func:`updates_on`'s fixed
  weights.

Example::

    >>> from primitives import parse
    >>> p = parse("def f(w, g, lr=0.1):\\n    d = g * 3.0\\n    u = g + g\\n    return lr * u")
    >>> [s.target for s in eliminate_dead_code(p).body]
    ['u', 'tmp1']
    >>> q = parse("def f(w, g, lr=0.1):\\n    return lr * (2.0 * g)")
    >>> structural_hash(p) == structural_hash(q), fingerprint(p) == fingerprint(q)
    (False, True)
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from typing import Sequence

import networkx as nx
import torch

from .errors import InvalidValue
from .execute import Executor, broadcast_shapes, probe_tensor
from .kinds import value_kinds
from .ops import OPS
from .program import Program, ProgramError, Stmt, stmt_source

__all__ = ["RETURN", "INVALID", "dataflow_graph", "eliminate_dead_code", "structural_hash",
           "fingerprint", "check_valid", "is_valid", "check_lr_scaling", "scales_with_lr",
           "check_reads_gradient", "reads_gradient", "updates_on", "adaptivity_exponent"]

#: the graph node that uses the returned values (``return`` is a keyword, never a variable)
RETURN = "return"
#: the fingerprint of a program that raises when run
INVALID = "invalid"
#: parameter shapes :func:`check_valid` tries: a vector, a matrix, a conv kernel
VALID_SHAPES = ((7,), (5, 3), (4, 3, 3, 3))
#: how an op fails on well-kinded probe values: shapes that do not fit and linear algebra that
#: cannot run (RuntimeError), a number position that is NaN or infinite (ValueError from
#: ``int(nan)``, OverflowError from ``int(inf)``). Anything else (a TypeError, say) would be a
#: value of the wrong kind, which :func:`primitives.kinds.value_kinds` rules out first, so it
#: is a bug and is not caught.
OP_FAILURES = (RuntimeError, ValueError, ArithmeticError)
#: parameter shapes :func:`fingerprint` runs on
_FINGERPRINT_SHAPES = ((6,), (4, 3))


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _stmt_text(index: int, s: Stmt) -> str:
    if s.op in OPS and len(s.args) == OPS[s.op].arity:
        rhs = stmt_source(s)
    else:  # malformed: print it as a plain call
        rhs = f"{s.op}({', '.join(str(a) for a in s.args)})"
    return f"statement {index + 1} `{s.target} = {rhs}`"


def _check_form(program: Program) -> None:
    """Known ops, arities, SSA (each name defined once, before use), one return per state."""
    defined = {p.name for p in program.params}
    for p in program.params:
        if isinstance(p.init, str) and p.init != "w" and p.init not in program.hyperparameters:
            raise ProgramError(f"{program.name}: state {p.name!r} starts from {p.init!r}, "
                               "which is not a hyperparameter")
    for i, s in enumerate(program.body):
        where = f"{program.name}: {_stmt_text(i, s)}"
        if s.op not in OPS:
            raise ProgramError(f"{where}: unknown op {s.op!r}")
        if len(s.args) != OPS[s.op].arity:
            raise ProgramError(f"{where}: {s.op} takes {OPS[s.op].arity} argument(s)")
        for a in s.args:
            if isinstance(a, str) and a not in defined:
                raise ProgramError(f"{where}: {a!r} is not defined before it is used")
        if s.target in defined:
            raise ProgramError(f"{where}: {s.target!r} is assigned twice (programs are SSA)")
        defined.add(s.target)
    if len(program.returns) != 1 + len(program.state_names):
        raise ProgramError(f"{program.name}: returns {len(program.returns)} value(s), needs "
                           f"{1 + len(program.state_names)} (update, then one per state)")
    for a in program.returns:
        if isinstance(a, str) and a not in defined:
            raise ProgramError(f"{program.name}: returned {a!r} is not defined")


def dataflow_graph(program: Program) -> nx.DiGraph:
    """The dataflow graph of ``program``.

    Nodes: each parameter (``kind="param"``, ``role``, ``init``), each statement, keyed by its
    target (``op``, ``kind`` = the op's kind, ``args``, ``index`` in the body), and :data:`RETURN`
    (``kind="return"``, ``args`` = the returned values). An edge ``a -> b`` means ``b`` uses ``a``;
    ``positions`` lists the argument positions (``mul(x, x)`` gives ``(0, 1)``), ``pos`` is the
    first. On ``RETURN``, position 0 is the update and ``1 + i`` the i-th state.

    >>> from primitives import parse
    >>> G = dataflow_graph(parse("def f(w, g, m):\\n    m = m + g\\n    return m, m"))
    >>> G.edges["m_1", "return"]["positions"], G.nodes["m_1"]["op"]
    ((0, 1), 'add')
    """
    _check_form(program)
    graph = nx.DiGraph(name=program.name)
    for i, p in enumerate(program.params):
        graph.add_node(p.name, op=None, kind="param", role=p.role, init=p.init, index=i)
    for i, s in enumerate(program.body):
        graph.add_node(s.target, op=s.op, kind=OPS[s.op].kind, args=s.args, index=i)
    graph.add_node(RETURN, op=None, kind="return", args=program.returns, index=len(program.body))
    for user, args in [(s.target, s.args) for s in program.body] + [(RETURN, program.returns)]:
        for pos, a in enumerate(args):
            if not isinstance(a, str):
                continue  # constants live in the user's ``args``
            if graph.has_edge(a, user):
                graph.edges[a, user]["positions"] += (pos,)
            else:
                graph.add_edge(a, user, pos=pos, positions=(pos,))
    return graph


def eliminate_dead_code(program: Program) -> Program:
    """``program`` without the statements that the returned values do not depend on.

    Live statements keep their order; parameters are the interface and are all kept.
    """
    live = nx.ancestors(dataflow_graph(program), RETURN)
    return replace(program, body=tuple(s for s in program.body if s.target in live))


def _leaf_hashes(program: Program) -> dict[str, str]:
    """Parameters hashed by role and position, never by name.

    Hyperparameters: ``hyper#i=<default>``; state: ``state#i`` plus its start value (a number,
    the hash of the hyperparameter it starts from, or the weight); ``w``, ``g``, and the reserved
    inputs by name (their names are their roles).
    """
    hyper = [p for p in program.params if p.role == "hyper"]
    leaves = {p.name: _digest(f"hyper#{i}={float(p.default)!r}") for i, p in enumerate(hyper)}
    state = [p for p in program.params if p.role == "state"]
    for i, p in enumerate(state):
        init = 0.0 if p.init is None else p.init
        if init == "w":
            init_text = "weight"
        elif isinstance(init, str):
            init_text = leaves[init]
        else:
            init_text = repr(float(init))
        leaves[p.name] = _digest(f"state#{i}:init={init_text}")
    for p in program.params:
        if p.role in ("weight", "grad", "input"):
            leaves[p.name] = _digest(f"{p.role}:{p.name}")
    return leaves


def structural_hash(program: Program) -> str:
    """A hash of how the returned values are computed from the inputs.

    Each value is hashed from its op and its arguments' hashes, ``h(op(a, b)) = H("op(h(a),h(b))")``
    (argument hashes sorted for commutative ops), bottom-up over the SSA body, which memoises the
    expression DAG; constants hash by ``repr(float(c))``. The program hash combines the hashes of
    the returned values in order, so names, dead statements and the order of independent
    statements do not matter, while ``a - b`` vs ``b - a``, other constants, other ops and other
    hyperparameter defaults do.
    """
    _check_form(program)
    hashes = _leaf_hashes(program)

    def arg_hash(a):
        return hashes[a] if isinstance(a, str) else _digest(f"const:{float(a)!r}")

    for s in program.body:
        args = [arg_hash(a) for a in s.args]
        if OPS[s.op].commutative:
            args.sort()
        hashes[s.target] = _digest(f"{s.op}({','.join(args)})")
    return _digest("return(" + ",".join(arg_hash(a) for a in program.returns) + ")")


# --------------------------------------------------------------------------------------------
# behaviour


def _round_token(x: float, tiny: float) -> str:
    """8 significant digits; NaN/inf as words; magnitudes below ``tiny`` (cancellation noise) 0."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if abs(x) <= tiny:
        return "0"
    return f"{x:.7e}"


def _tensor_token(x: torch.Tensor) -> str:
    values = x.detach().double().flatten().tolist()
    finite = [abs(v) for v in values if math.isfinite(v)]
    tiny = 1e-12 * max(finite, default=0.0)
    return f"{tuple(x.shape)}:" + ",".join(_round_token(v, tiny) for v in values)


def _as_shape(value, like: torch.Tensor) -> torch.Tensor:
    """``value`` (a tensor or a number) broadcast to ``like``'s shape, as :meth:`step_` would."""
    value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return torch.broadcast_to(value, like.shape).clone()


def _trajectory(program: Program, steps: int, seed: int, hyper: dict | None = None,
                grad_seed: int | None = None, move: bool = True):
    """Yield ``(updates, state)`` for ``steps`` steps (t = 1, 2, ...) in float64 on the
    fingerprint shapes: weights, gradients, ``h`` and ``loss`` drawn from ``seed`` (gradients
    from ``grad_seed`` instead when given); ``move=False`` keeps the weights fixed."""
    gen = torch.Generator().manual_seed(seed)
    f64 = dict(dtype=torch.float64, generator=gen)
    grads = f64 if grad_seed is None else dict(dtype=torch.float64,
                                                generator=torch.Generator().manual_seed(grad_seed))
    ex = Executor(program)
    w = [torch.randn(s, **f64) for s in _FINGERPRINT_SHAPES]
    state = ex.init_state(w, hyper)
    inputs = program.input_names
    for t in range(1, steps + 1):
        # every draw happens whatever the program reads, so all programs see the same gradients
        g = [torch.randn(s, **grads) for s in _FINGERPRINT_SHAPES]
        h = [torch.randn(s, **f64).abs() for s in _FINGERPRINT_SHAPES]
        loss = 0.5 + float(torch.rand((), **f64))
        with torch.no_grad():
            upd, new = ex.update(w, g, state, hyper, t=float(t),
                                 loss=loss if "loss" in inputs else None,
                                 h=h if "h" in inputs else None)
        upd = [_as_shape(u, p) for u, p in zip(upd, w)]
        state = {k: [_as_shape(v, buf) for v, buf in zip(new[k], state[k])] for k in state}
        if move:
            w = [p - u for p, u in zip(w, upd)]
        yield upd, state


def _behaviour(program: Program, steps: int, seed: int, state_too: bool = True) -> list[str]:
    tokens = []
    for upd, state in _trajectory(program, steps, seed):
        tokens += [_tensor_token(u) for u in upd]
        if state_too:
            tokens += [_tensor_token(v) for k in program.state_names for v in state[k]]
    return tokens


def fingerprint(program: Program, steps: int = 3, seed: int = 0, state: bool = True) -> str:
    """A hash of what ``program`` computes (functional-equivalence caching, AutoML-Zero style).

    Runs ``steps`` steps (t = 1, 2, ...) with :meth:`Executor.update` in float64 on a vector and a
    matrix: weights and a gradient sequence drawn from ``torch.Generator().manual_seed(seed)``
    (``loss`` and ``h`` too when the program reads them); each step's updates and state are
    rounded to 8 significant digits (NaN/inf as words) and hashed. Programs that raise get
    :data:`INVALID`. Equivalent programs that differ only in rounding almost always agree; a value
    that straddles a rounding boundary can, rarely, split them.

    ``state=False`` hashes the updates only: programs whose updates agree step after step train
    identically, whatever they keep in state, so a search can treat a state change that the
    update does not (yet) read as the parent itself (a neutral mutation, free to evaluate).
    """
    try:
        tokens = _behaviour(program, steps, seed, state)
    except Exception:  # noqa: BLE001 - an invalid program is an outcome, not a crash
        return INVALID
    return _digest("\n".join(tokens))


# --------------------------------------------------------------------------------------------
# validity


def _meta_inputs(program: Program, shape: tuple, state_shapes: dict[str, tuple]):
    probe = probe_tensor(shape)
    state = {n: [probe(state_shapes[n])] for n in program.state_names}
    h = [probe(shape)] if "h" in program.input_names else None
    return dict(params=[probe(shape)], grads=[probe(shape)], state=state, t=1.0, loss=1.0, h=h)


def _first_line(exc: Exception) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _failing_statement(program: Program, shape: tuple, state_shapes: dict) -> ProgramError | None:
    """The error naming the first statement that fails with these state shapes, if any."""
    for i, s in enumerate(program.body):
        prefix = replace(program, body=program.body[: i + 1],
                         returns=(s.target, *program.state_names))
        try:
            Executor(prefix).update(**_meta_inputs(program, shape, state_shapes))
        except OP_FAILURES as exc:  # the failure we are locating
            return ProgramError(f"{program.name}: {_stmt_text(i, s)} fails for a parameter of "
                                f"shape {shape}: {_first_line(exc)}")
    return None


def _failure(program: Program, shape: tuple, exc: Exception) -> ProgramError:
    """The error for a failed meta run: the statement that fails, or the state that cannot fit.

    Replays :meth:`Executor.state_shapes` (state grows from its start shape by broadcasting
    what each step returns) and looks for the first failing statement at each round.
    """
    shapes = {n: shape if init == "w" else () for n, init in program.state_inits.items()}
    for _ in range(5):
        found = _failing_statement(program, shape, shapes)
        if found is not None:
            return found
        try:
            _, new = Executor(program).update(**_meta_inputs(program, shape, shapes))
        except OP_FAILURES:  # not located; report the original error
            break
        for n in program.state_names:
            have = _shape_of(new[n][0])
            if not _broadcasts_to(have, shape):
                return ProgramError(f"{program.name}: state {n!r} comes back with shape {have}, "
                                    f"which does not broadcast to the parameter shape {shape}")
            shapes[n] = tuple(broadcast_shapes(shapes[n], have))
    return ProgramError(f"{program.name}: fails for a parameter of shape {shape}: "
                        f"{_first_line(exc)}")


def _shape_of(value) -> tuple:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else ()


def _broadcasts_to(have: tuple, shape: tuple) -> bool:
    try:
        return tuple(broadcast_shapes(have, shape)) == shape
    except RuntimeError:
        return False


def _check_shape(ex: Executor, shape: tuple) -> None:
    program = ex.program
    try:
        state_shapes = ex.state_shapes(shape)
        upd, new = ex.update(**_meta_inputs(program, shape, state_shapes))
    except OP_FAILURES as exc:  # an op that fails on these shapes makes the program invalid
        raise _failure(program, shape, exc) from None
    u = upd[0]
    if isinstance(u, torch.Tensor) and not u.is_floating_point():
        raise ProgramError(f"{program.name}: the update has dtype {u.dtype}, not floating point")
    if not _broadcasts_to(_shape_of(u), shape):
        raise ProgramError(f"{program.name}: the update has shape {_shape_of(u)}, which does "
                           f"not broadcast to the parameter shape {shape}")
    # a state keeps the shape inference gave it (Shampoo's and GaLore's are matrices of their
    # own, not shaped like the parameter); what it comes back as must fit that shape
    for name in program.state_names:
        v = new[name][0]
        if not _broadcasts_to(_shape_of(v), tuple(state_shapes[name])):
            raise ProgramError(f"{program.name}: state {name!r} comes back with shape "
                               f"{_shape_of(v)}, which does not fit its state shape "
                               f"{tuple(state_shapes[name])} (parameter shape {shape})")


def check_valid(program: Program, shapes: Sequence[Sequence[int]] = VALID_SHAPES) -> None:
    """Raise :class:`ProgramError` (one line) unless ``program`` can run on every shape.

    Well-formedness (known ops, arities, SSA, return count) is checked first, then the kind of
    every value (:func:`primitives.kinds.value_kinds`: a group reduction of a scalar, a tensor
    where a number is needed). Then, for each parameter shape, one step runs on float32 probe
    tensors (``w``, ``g``, ``h``, state shaped by :meth:`Executor.state_shapes`; ``t = 1``,
    ``loss = 1``): an op that fails (:data:`OP_FAILURES`: a shape mismatch, ...) is reported
    with the first statement that fails; the update and each returned state must broadcast to
    the parameter shape.
    """
    _check_form(program)
    value_kinds(program)  # an op given a value of the wrong kind is named before any run
    ex = Executor(program)
    for shape in shapes:
        _check_shape(ex, tuple(int(n) for n in shape))


def _passes(check, *args) -> bool:
    """``True`` when ``check(*args)`` raises no :class:`ProgramError`."""
    try:
        check(*args)
    except ProgramError:
        return False
    return True


def is_valid(program: Program, shapes: Sequence[Sequence[int]] = VALID_SHAPES) -> bool:
    """``True`` when :func:`check_valid` passes."""
    return _passes(check_valid, program, shapes)


# --------------------------------------------------------------------------------------------
# scale of the update in the learning rate


def _updates_at(program: Program, hyper: dict, steps: int, seed: int,
                grad_seed: int | None = None) -> list[torch.Tensor]:
    """The updates of ``steps`` steps on fixed weights (other gradients with ``grad_seed``)."""
    return [u for upd, _ in _trajectory(program, steps, seed, hyper, grad_seed, move=False)
            for u in upd]


def check_lr_scaling(program: Program, name: str = "lr", steps: int = 3, seed: int = 0) -> None:
    """Raise :class:`ProgramError` unless the update is proportional to the hyperparameter
    ``name``: doubling it doubles every update of ``steps`` steps (state included in the run).

    A search that tunes ``lr`` on a grid needs this: a program that reads ``lr`` only through
    ``lr * (...)`` is scored at its best grid point, while one that bends it (``exp(lr)``,
    ``tan(lr) * g``, an update that ignores it) would move its step size off the grid instead of
    improving its direction. Checked in float64 at ``lr`` = 0.25 and 0.5, large enough that a
    curved function of ``lr`` shows (``arcsin(lr) ~ lr`` near 0), to relative 1e-6. An update
    that is zero at every step fails too: it cannot be scored on a grid (nor train anything).
    """
    if name not in program.hyperparameters:
        raise ProgramError(f"{program.name}: has no hyperparameter {name!r} to scale with")
    try:
        one = _updates_at(program, {name: 0.25}, steps, seed)
        two = _updates_at(program, {name: 0.5}, steps, seed)
    except Exception as exc:  # noqa: BLE001 - a program that cannot run fails the check
        raise ProgramError(f"{program.name}: cannot run: {_first_line(exc)}") from None
    if not any(bool((a != 0).any()) for a in one):
        raise ProgramError(f"{program.name}: the update is zero at every step")
    for a, b in zip(one, two):
        if not torch.allclose(2 * a, b, rtol=1e-6, atol=1e-300, equal_nan=True):
            raise ProgramError(f"{program.name}: the update is not proportional to {name} "
                               f"(doubling {name} does not double it)")


def scales_with_lr(program: Program, name: str = "lr") -> bool:
    """``True`` when :func:`check_lr_scaling` passes."""
    return _passes(check_lr_scaling, program, name)


def check_reads_gradient(program: Program, steps: int = 3, seed: int = 0) -> None:
    """Raise :class:`ProgramError` unless the updates change when the gradients do.

    A rule whose update ignores ``g`` (``lr * sign(w)``: shrink every weight to zero) is not an
    optimizer, but it can score well on a task whose optimum is the origin; a search rejects it.
    """
    try:
        one = _updates_at(program, {}, steps, seed)
        two = _updates_at(program, {}, steps, seed, grad_seed=seed + 1)
    except Exception as exc:  # noqa: BLE001 - a program that cannot run fails the check
        raise ProgramError(f"{program.name}: cannot run: {_first_line(exc)}") from None
    if all(torch.equal(a, b) for a, b in zip(one, two)):
        raise ProgramError(f"{program.name}: the update does not depend on the gradient g")


def reads_gradient(program: Program) -> bool:
    """``True`` when :func:`check_reads_gradient` passes."""
    return _passes(check_reads_gradient, program)


# --------------------------------------------------------------------------------------------
# adaptivity: how the update follows the scale of the gradient, coordinate by coordinate

#: the per-coordinate gradient scales of :func:`adaptivity_exponent`: log-uniform in this range
ADAPTIVITY_RANGE = (1e-2, 1e2)


def updates_on(program: Program, params: Sequence[torch.Tensor], grads: Sequence[Sequence],
               *, hyper: dict | None = None, h: Sequence[Sequence] | None = None,
               losses: Sequence[float] | None = None,
               path: Sequence[Sequence] | None = None) -> list[list[torch.Tensor]]:
    """The updates of ``program`` over a given sequence of inputs, on weights it does not move.

    ``grads[s]`` is step ``s + 1``'s gradient list (one tensor per parameter); ``h[s]`` and
    ``losses[s]`` are the Hessian-diagonal and loss inputs of that step, needed only when the
    program reads them. State starts as the program declares from ``params``, ``t = 1, 2, ...``.
    The weights are ``params`` at every step, or ``path[s]`` at step ``s + 1`` when a path is
    given, never the program's own ``w - update``: runs that differ in the gradients or in the
    constants see the same weights and can be compared update by update. Returns one list of
    updates per step, broadcast to the parameter shapes (state too is kept at its shape between
    steps). Runs the compiled out-of-place step (:meth:`Executor.update_compiled`, the numbers
    of :meth:`Executor.update`).
    """
    ex = Executor(program)
    state = ex.init_state(params, hyper)
    reads = program.input_names
    out = []
    for s, g in enumerate(grads):
        w = params if path is None else path[s]
        with torch.no_grad():
            upd, new = ex.update_compiled(
                w, g, state, hyper, t=float(s + 1),
                loss=losses[s] if "loss" in reads else None, h=h[s] if "h" in reads else None)
        out.append([_as_shape(u, p) for u, p in zip(upd, w)])
        state = {k: [_as_shape(v, buf) for v, buf in zip(new[k], state[k])] for k in state}
    return out


def _matrix_shape(dim: int) -> tuple[int, int]:
    """``dim`` entries as a matrix: rows the largest divisor of ``dim`` up to its square root."""
    rows = max(r for r in range(1, math.isqrt(dim) + 1) if dim % r == 0)
    return rows, dim // rows


def _slope(x: torch.Tensor, ys: Sequence[torch.Tensor]) -> float:
    """The least-squares slope of each ``y`` against ``x``, with an intercept per ``y``, over the
    entries where ``y`` is finite; NaN when no ``y`` has two such entries."""
    num = den = 0.0
    for y in ys:
        ok = torch.isfinite(y)
        if int(ok.sum()) < 2:
            continue
        dx, dy = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
        num += float((dx * dy).sum())
        den += float((dx * dx).sum())
    return num / den if den > 0 else math.nan


def adaptivity_exponent(program: Program, *, steps: int = 32, dim: int = 384, seed: int = 0,
                        shape: Sequence[int] | None = None, hyper: dict | None = None,
                        factored: bool = False) -> float:
    """The exponent alpha of ``u(D g) ~ D^alpha u(g)``: how the update follows a rescaling of
    the gradient when every coordinate has its own scale.

    Two runs of ``steps`` steps in float64 (:func:`updates_on`, the program's defaults updated by
    ``hyper``): gradients ``g_t ~ N(0, 1)`` drawn from ``seed``, then ``D * g_t`` with ``D`` per
    coordinate log-uniform in :data:`ADAPTIVITY_RANGE`, the same at every step. alpha is the
    least-squares slope of ``log|u(Dg) / u(g)|`` against ``log D`` over every coordinate and
    step, with an intercept per step: a factor shared by the whole tensor (a norm, a trust ratio,
    a step size read from the loss) is not per-coordinate adaptivity. Entries where either update
    is zero or not finite are left out; NaN when nothing is left (a zero update). SGD and
    heavy-ball momentum (linear in g) give 1, Adam and RMSprop 0 up to their eps, sign rules
    exactly 0, ``g / sqrt(|g|)`` 0.5.

    Everything else is the same in both runs. The weights stay at one fixed draw: moving each
    run by its own updates would make the weights depend on D, and a term that reads them
    (weight decay, a trust ratio) would then count as adaptivity. ``loss_t = 1 / (1 + 0.1 t)``.
    ``h`` (positive, uniform in [0.5, 1.5]) is scaled by D with g, as for a loss whose
    coordinate i is multiplied by ``D_i``, so a rule normalised by its curvature (AdaHessian,
    Sophia) reads 0.

    The parameter is a matrix of ``dim`` entries (16 x 24 for 384) unless ``shape`` is given:
    an element-wise rule gives the same alpha on a vector, and matrix rules (Muon, Shampoo,
    Adafactor's factored moments) need two dims. For those D is still per entry, so alpha says
    how an entry's update follows its own gradient's scale when the entries' scales differ.
    ``factored=True`` draws ``D_ij = r_i c_j`` instead (``r``, ``c`` log-uniform over the square
    root of the range, so D spans the same range): one scale per row and per column, which a
    factored or Kronecker preconditioner can undo (Adafactor is about 1 per entry, about 0 so).

    >>> from primitives import parse
    >>> round(adaptivity_exponent(parse("def f(w, g, lr=0.1):\\n    return lr * g")), 6)
    1.0
    >>> adaptivity_exponent(parse("def f(w, g, lr=0.1):\\n    return lr * sign(g)"))
    0.0
    """
    if steps < 1 or dim < 2:
        raise InvalidValue(f"adaptivity_exponent needs steps >= 1 and dim >= 2, got steps={steps}, "
                           f"dim={dim}")
    shape = tuple(shape) if shape is not None else _matrix_shape(dim)
    gen = torch.Generator().manual_seed(seed)
    f64 = dict(dtype=torch.float64, generator=gen)
    w = [torch.randn(shape, **f64)]
    lo, hi = (math.log(b) for b in ADAPTIVITY_RANGE)
    log_d = lo + (hi - lo) * torch.rand(shape, **f64)
    if factored:
        if len(shape) != 2:
            raise InvalidValue(f"factored scales need a matrix shape, got {shape}")
        rows, cols = (0.5 * (lo + (hi - lo) * torch.rand(n, **f64)) for n in shape)
        log_d = rows[:, None] + cols[None, :]
    grads = [[torch.randn(shape, **f64)] for _ in range(steps)]
    hs = [[0.5 + torch.rand(shape, **f64)] for _ in range(steps)]
    losses = [1.0 / (1.0 + 0.1 * t) for t in range(1, steps + 1)]
    d = log_d.exp()
    base = updates_on(program, w, grads, hyper=hyper, h=hs, losses=losses)
    scaled = updates_on(program, w, [[d * g[0]] for g in grads], hyper=hyper,
                        h=[[d * x[0]] for x in hs], losses=losses)
    ratios = [(b[0].abs().log() - a[0].abs().log()).flatten() for a, b in zip(base, scaled)]
    return _slope(log_d.flatten(), ratios)
