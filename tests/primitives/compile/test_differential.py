"""Every execution path of a program computes the same numbers (a differential property test).

Random valid programs (:func:`primitives.testing.covering_programs`: every op of the registry
is used across the set; states with start values; ``t``, ``loss`` and ``h`` read by some) run
for :data:`STEPS` steps, in float64, on one parameter group of mixed shapes, through:

1. ``Executor.update``, the reference (the weight becomes ``w - update``; state carried);
2. ``Executor.step_``, the compiled fused step, per tensor and with foreach kernels;
3. the exported class ``discover.optimizer(program)``, per tensor and foreach, driven like any
   torch optimizer (``p.grad``; ``step(loss=...)``, ``step(hessian={p: h})``);
4. ``Executor.batched_update`` for K = 3 copies at different ``lr``, each copy against the
   reference run at its ``lr``.

Every path sees the same inputs: the gradients, ``h`` and ``loss`` of each step come from a
seeded generator and do not depend on the weights. After every step the weights and the state
of each path must match the reference's, entry by entry (:func:`mismatch`):

- where the reference is finite: ``|x - ref| <= RTOL * max(1, |ref|)`` with ``RTOL = 1e-9``.
  The paths differ only in floating-point association (a fused ``addcdiv_`` for ``w - c*m/d``,
  a coefficient ``lr / bc1`` folded once), each a few ulps (~1e-16) per operation, so 1e-9
  leaves room for a few steps of growth through the programs' ops while a real difference (a
  wrong coefficient, a skipped term, a stale state, a wrong ``t``) is far above it. Entry by
  entry, not norm-wise, so a wrong small entry beside large ones is caught; absolute below 1
  so values that cancel to ~0 are not compared by relative error;
- where the reference is NaN or infinite the path must be non-finite at the same entries.

Two kinds of programs are drawn so the comparison means what it says:

- the update is ``lr * x`` for most programs, so the K copies differ;
- the fused paths skip a term whose scalar factor is exactly 0 at run time (as torch skips
  ``weight_decay=0``): the reference's ``0 * inf = NaN`` becomes the fused path's "no term".
  That is intended, and differs from the reference only when the skipped term is non-finite.
  :func:`mismatch` is given the reference run once more with exact-zero scalar factors
  annihilating (``0 * x = 0``, :func:`_annihilating_mul`); a fused entry that disagrees with
  the plain reference but agrees with that one is this documented difference, not a bug.

The default suite checks :data:`DEFAULT_COUNT` programs (a fixed seed: the same programs every
run); ``-m slow`` checks :data:`SLOW_COUNT`. Known disagreements are explicit regression cases
below, marked ``xfail(strict=True)`` until they are fixed.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import replace

import pytest
import torch

import discover
from primitives import OPS, Executor, parse
from primitives.testing import covering_programs

SHAPES = ((7,), (3, 5), (2, 3, 2, 2), (4, 4), (1,))
STEPS = 6
RTOL = 1e-9
#: the lr of each of the K = 3 batched copies (the first is the default of every program)
LRS = (0.1, 0.03, 0.3)
SEED = 20250101
DEFAULT_COUNT = 200
SLOW_COUNT = 5000
F64 = torch.float64


# ---- inputs ------------------------------------------------------------------------------------


def _inputs(seed: int, wiggle: float = 0.0):
    """Start weights and, per step, gradients, ``h`` (positive) and ``loss``, drawn from
    ``seed`` whatever the program reads; ``wiggle`` multiplies each by ``1 + wiggle * N(0, 1)``
    (another generator), for :func:`_conditioned_steps`."""
    gen, noise = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)

    def draw(shape, low=None):
        x = torch.randn(shape, dtype=F64, generator=gen) if low is None else \
            torch.rand(shape, dtype=F64, generator=gen) + low
        return x * (1 + wiggle * torch.randn(shape, dtype=F64, generator=noise))

    w0 = [draw(s) for s in SHAPES]
    steps = []
    for _ in range(STEPS):
        g = [draw(s) for s in SHAPES]
        h = [draw(s, low=0.1) for s in SHAPES]
        loss = float(draw((), low=0.5))
        steps.append((g, h, loss))
    return w0, steps


def _reads(program, name):
    return name in program.input_names


# ---- the paths: each returns [(weights, {state: tensors})] after every step ------------------


def _broadcast(value, like):
    return torch.broadcast_to(torch.as_tensor(value, dtype=F64), like.shape).clone()


def run_reference(program, seed, lr=None, wiggle=0.0, update_wiggle=0.0):
    """The reference run; ``wiggle`` perturbs the inputs, ``update_wiggle`` every update (both
    relative), to tell how far rounding alone can move it (:func:`_conditioned_steps`)."""
    ex = Executor(program)
    hyper = {} if lr is None else {"lr": lr}
    w0, steps = _inputs(seed, wiggle)
    w, state, out = [p.clone() for p in w0], ex.init_state(w0, hyper), []
    for t, (g, h, loss) in enumerate(steps, 1):
        upd, new = ex.update(w, g, state, hyper, t=t, loss=loss if _reads(program, "loss") else None,
                             h=h if _reads(program, "h") else None)
        # a factor that differs per step, so opposite updates of one size do not cancel it
        w = [p - _broadcast(u, p) * (1 + update_wiggle * t) for p, u in zip(w, upd)]
        state = {k: [_broadcast(v, s) for v, s in zip(new[k], state[k])] for k in state}
        out.append((w, state))
    return out


def run_step(program, seed, foreach):
    ex = Executor(program, foreach=foreach)
    w0, steps = _inputs(seed)
    w = [p.clone() for p in w0]
    state, out = ex.init_state(w), []
    for t, (g, h, loss) in enumerate(steps, 1):
        ex.step_(w, g, state, t=t, loss=loss if _reads(program, "loss") else None,
                 h=h if _reads(program, "h") else None)
        out.append(([p.clone() for p in w], {k: [v.clone() for v in vs] for k, vs in state.items()}))
    return out


def run_export(program, seed, foreach):
    cls = discover.optimizer(program)
    w0, steps = _inputs(seed)
    params = [torch.nn.Parameter(p.clone()) for p in w0]
    opt = cls(params, foreach=foreach)
    takes = inspect.signature(opt.step).parameters
    out = []
    for g, h, loss in steps:
        for p, grad in zip(params, g):
            p.grad = grad.clone()
        kwargs = {}
        if "loss" in takes:
            kwargs["loss"] = loss
        if "hessian" in takes:
            kwargs["hessian"] = dict(zip(params, h))
        opt.step(**kwargs)
        state = {k: [opt.state[p][k].detach().clone() for p in params]
                 for k in program.state_names}
        out.append(([p.detach().clone() for p in params], state))
    return out


def _per_copy(value, like):
    """A batched value ``[K, *r]`` broadcast to ``like`` (``[K, *s]``, ``r`` broadcasting to
    ``s``): a copy's 0-d state comes back as ``[K]``."""
    value = torch.as_tensor(value, dtype=F64)
    missing = like.ndim - value.ndim
    value = value.reshape(value.shape[:1] + (1,) * missing + value.shape[1:])
    return torch.broadcast_to(value, like.shape).clone()


def run_batched(program, seed):
    """K = len(LRS) copies, copy k at ``lr = LRS[k]``; returns one run per copy."""
    ex = Executor(program)
    w0, steps = _inputs(seed)
    k = len(LRS)
    w = [p.expand((k,) + p.shape).clone() for p in w0]
    inits = [ex.init_state(w0, {"lr": lr}) for lr in LRS]
    state = {n: [torch.stack([init[n][i] for init in inits]) for i in range(len(w0))]
             for n in program.state_names}
    lrs = torch.tensor(LRS, dtype=F64)
    copies = [[] for _ in range(k)]
    for t, (g, h, loss) in enumerate(steps, 1):
        gb = [x.expand((k,) + x.shape) for x in g]
        hb = [x.expand((k,) + x.shape) for x in h] if _reads(program, "h") else None
        upd, new = ex.batched_update(w, gb, state, {"lr": lrs}, t=t,
                                     loss=loss if _reads(program, "loss") else None, h=hb)
        w = [p - _per_copy(u, p) for p, u in zip(w, upd)]
        state = {n: [_per_copy(v, s) for v, s in zip(new[n], state[n])] for n in state}
        for c in range(k):
            copies[c].append(([p[c] for p in w], {n: [v[c] for v in vs] for n, vs in state.items()}))
    return copies


# ---- comparison --------------------------------------------------------------------------------


def _annihilating_mul(a, b):
    """``a * b``, but an exact-zero scalar factor gives zeros (the fused paths' zero skip)."""
    for x, y in ((a, b), (b, a)):
        if not isinstance(x, torch.Tensor) or x.ndim == 0:
            if float(x) == 0.0:
                return torch.zeros_like(torch.as_tensor(y, dtype=F64)) if isinstance(
                    y, torch.Tensor) else 0.0
    return a * b


def mismatch(x, ref, alt=None) -> str | None:
    """Why ``x`` does not match ``ref`` (see the module docstring), or None; ``alt`` is the
    zero-skipping reference, accepted wherever the plain one is non-finite."""
    x, ref = torch.as_tensor(x, dtype=F64), torch.as_tensor(ref, dtype=F64)
    shape = torch.broadcast_shapes(x.shape, ref.shape)
    x, ref = x.broadcast_to(shape), ref.broadcast_to(shape)
    bad = _bad_entries(x, ref)
    if alt is not None and bad.any():  # the zero skip: only where the reference is non-finite
        alt = torch.as_tensor(alt, dtype=F64).broadcast_to(shape)
        bad &= ~(~torch.isfinite(ref) & ~_bad_entries(x, alt))
    if not bad.any():
        return None
    i = int(bad.flatten().nonzero()[0])
    a, r = float(x.flatten()[i]), float(ref.flatten()[i])
    return f"{int(bad.sum())} of {bad.numel()} entries differ, e.g. {a!r} against {r!r}"


def _bad_entries(x, ref):
    finite = torch.isfinite(ref)
    close = (x - ref).abs() <= RTOL * ref.abs().clamp(min=1.0)
    return torch.where(finite, ~(close & torch.isfinite(x)), torch.isfinite(x))


def compare(name, run, ref, alt=None) -> list[tuple[int, str]]:
    """Every disagreement ``(step, text)`` of ``run`` with ``ref`` (weights and state) at the
    first step that has one (later steps follow from it)."""
    problems = []
    for t, ((w, state), (rw, rstate)) in enumerate(zip(run, ref), 1):
        alts = alt[t - 1] if alt is not None else (None, None)
        for i, (a, r) in enumerate(zip(w, rw)):
            why = mismatch(a, r, alts[0][i] if alt is not None else None)
            if why:
                problems.append((t, f"{name}: step {t}, weight {i} {tuple(r.shape)}: {why}"))
        for k in rstate:
            for i, (a, r) in enumerate(zip(state[k], rstate[k])):
                why = mismatch(a, r, alts[1][k][i] if alt is not None else None)
                if why:
                    problems.append((t, f"{name}: step {t}, state {k}[{i}]: {why}"))
        if problems:
            break
    return problems


def _conditioned_steps(program, seed, ref, lr=None) -> int:
    """How many steps of ``ref`` are well conditioned: the first step at which the reference
    itself moves by more than the tolerance when every input, or every update, is perturbed by
    1e-14 relative, minus one (all of them when it never does).

    A program can amplify rounding without bound (``fmod(sinh(sinh(m)), c)``: the remainder of
    a huge number depends on its last bits; ``w - 1e15 + 1e15`` keeps only the rounding of
    ``1e15``; ``sin(w)`` at ``w = 1e7`` turns one ulp of ``w`` into 1e-9), so paths that each
    round correctly still part after a few steps. Past that step no path can be held to 1e-9,
    so it is not compared."""
    first = STEPS
    for wiggle in (dict(wiggle=1e-14), dict(update_wiggle=1e-14)):
        try:
            moved = compare("", run_reference(program, seed, lr, **wiggle), ref)
        except Exception:  # noqa: BLE001 - a perturbed run that fails is itself ill conditioned
            return 0
        if moved:
            first = min(first, moved[0][0] - 1)
    return first


def _zero_skipping_reference(program, seed, monkeypatch):
    with monkeypatch.context() as m:
        m.setitem(OPS, "mul", replace(OPS["mul"], fn=_annihilating_mul))
        return run_reference(program, seed)


def check_program(program, seed, monkeypatch=None, stats=None) -> list[str]:
    """All disagreements between the paths for ``program`` (an empty list when they agree).

    With ``monkeypatch``, a fused path's entry that differs where the reference is non-finite
    is accepted when it matches the zero-skipping reference (the module docstring). A
    difference after the reference's own well-conditioned steps (:func:`_conditioned_steps`)
    is not one (counted in ``stats["ill-conditioned"]``)."""
    try:
        ref = run_reference(program, seed)
    except Exception as exc:  # noqa: BLE001 - reported, then sorted by the caller
        return [f"reference: raises {type(exc).__name__}: {_first_line(exc)}"]
    problems, found, alt = [], [], None
    for name, run in [("step_ per tensor", lambda: run_step(program, seed, False)),
                      ("step_ foreach", lambda: run_step(program, seed, True)),
                      ("export per tensor", lambda: run_export(program, seed, False)),
                      ("export foreach", lambda: run_export(program, seed, True))]:
        try:
            out = run()
        except Exception as exc:  # noqa: BLE001 - a path that raises is a disagreement
            problems.append(f"{name}: raises {type(exc).__name__}: {_first_line(exc)}")
            continue
        differ = compare(name, out, ref)
        if differ and monkeypatch is not None:
            alt = alt or _zero_skipping_reference(program, seed, monkeypatch)
            differ = compare(name, out, ref, alt)
        found += differ
    try:
        copies = run_batched(program, seed)
    except Exception as exc:  # noqa: BLE001 - as above
        copies = None
        problems.append(f"batched: raises {type(exc).__name__}: {_first_line(exc)}")
    refs = {None: ref}
    for k, lr in enumerate(LRS if copies is not None else ()):
        at = None if k == 0 else lr
        refs[at] = refs.get(at) or run_reference(program, seed, at)
        found += [(t, text, at) for t, text in compare(f"batched copy {k} (lr={lr})", copies[k],
                                                          refs[at])]
    conditioned = {}
    for item in found:
        t, text, at = item if len(item) == 3 else (*item, None)
        if at not in conditioned:
            conditioned[at] = _conditioned_steps(program, seed, refs[at], at)
        if t <= conditioned[at]:
            problems.append(text)
    if stats is not None and any(t > conditioned[at] for t, *_, at in
                                 [(*i, None) if len(i) == 2 else i for i in found]):
        stats["ill-conditioned"] = stats.get("ill-conditioned", 0) + 1
    return problems


def _first_line(exc) -> str:
    return (str(exc).splitlines() or [""])[0][:160]


# ---- known bugs: each has a minimal regression case below ------------------------------------


#: name -> (does this problem of this program come from the bug?); an explained problem makes
#: the random suite xfail (with the count) instead of fail; any other problem fails it
KNOWN = {
    "interp runs as torch.lerp, NaN for an infinite first argument where the op is infinite":
        lambda program, problem: any(s.op == "interp" for s in program.body)
        and problem.startswith(("step_", "export"))
        and re.search(r"e\.g\. nan against -?\d", problem) is not None,
}


def _check_random_programs(count, monkeypatch):
    programs = covering_programs(count, seed=SEED)
    assert {s.op for p in programs for s in p.body} == set(OPS)  # every op of the registry
    assert sum(bool(p.state_names) for p in programs) > count // 2
    assert sum(any(p.init is not None for p in p.params) for p in programs) > count // 10
    for name in ("t", "loss", "h"):
        assert sum(name in p.input_names for p in programs) > count // 5, name
    unexplained, known, stats = [], {}, {}
    for i, program in enumerate(programs):
        for problem in check_program(program, SEED + i, monkeypatch, stats):
            bugs = [bug for bug, explains in KNOWN.items() if explains(program, problem)]
            if bugs:
                known.setdefault(bugs[0], set()).add(i)
            else:
                unexplained.append(f"program {i}: {problem}\n{program.source}")
    assert not unexplained, f"{len(unexplained)} disagreement(s); first:\n{unexplained[0]}"
    # the escape for programs that amplify rounding must stay an exception
    assert stats.get("ill-conditioned", 0) <= max(2, count // 100), stats
    if known:
        pytest.xfail("; ".join(f"{bug}: {len(ids)} of {count} programs"
                               for bug, ids in known.items()))


def test_random_programs_agree_on_every_path(monkeypatch):
    _check_random_programs(DEFAULT_COUNT, monkeypatch)


@pytest.mark.slow
def test_many_random_programs_agree_on_every_path(monkeypatch):
    _check_random_programs(SLOW_COUNT, monkeypatch)


# ---- the comparison itself ---------------------------------------------------------------------


def test_a_wrong_value_is_caught_entry_by_entry():
    ref = torch.tensor([1e6, 1e-3, 0.0, math.inf, math.nan], dtype=F64)
    assert mismatch(ref.clone(), ref) is None
    assert mismatch(ref * (1 + 1e-12), ref) is None
    assert mismatch(ref + torch.tensor([0.0, 2e-9, 0.0, 0.0, 0.0]), ref) is not None
    assert mismatch(ref + torch.tensor([2e-3, 0.0, 0.0, 0.0, 0.0]), ref) is not None
    assert mismatch(torch.tensor([1e6, 1e-3, 0.0, 1.0, math.nan]), ref) is not None
    assert mismatch(torch.tensor([1e6, 1e-3, math.nan, math.inf, math.nan]), ref) is not None


ZERO_FACTOR = """def f(w, g, m, lr=0.1, wd=0.0):
    m = m + wd * exp(w * 1000.0)
    return lr * (g + wd * exp(w * 1000.0)) + m, m"""


def test_the_zero_skip_is_accepted_only_where_the_reference_is_not_finite(monkeypatch):
    """``wd * exp(1000 w)`` at ``wd = 0`` is NaN in the reference where ``exp`` overflows and
    no term at all in the fused paths; elsewhere both are exact."""
    program = parse(ZERO_FACTOR)
    assert any("against nan" in p for p in check_program(program, 1))
    assert check_program(program, 1, monkeypatch) == []
    finite = parse(ZERO_FACTOR.replace("1000.0", "1.0"))
    assert check_program(finite, 1) == []


def test_each_path_is_checked():
    """A program whose paths all run: every path reports (nothing) and a wrong lr is caught."""
    program = parse("def f(w, g, m, t, lr=0.1):\n    m = interp(g, m, 0.9)\n"
                    "    return lr * m / (1 - 0.9 ** t), m")
    assert check_program(program, 3) == []
    ref = run_reference(program, 3)
    assert compare("lr=0.03", run_reference(program, 3, lr=0.03), ref)


# ---- regression cases (the known ones xfail until the path is fixed) --------------------------

SHARED_STATE = """def f(w, g, m, v: w, lr=0.1):
    return lr * g, v, v"""
SHARED_COMPUTED = """def f(w, g, m, v: w, lr=0.1):
    x = tanh(v)
    return lr * g, x, x"""
LERP_OF_INF = """def f(w, g, m, lr=0.1):
    return lr * tanh(interp(1.0 / m, g, 0.3)), m"""
CONSTANT_STATE = """def f(w, g, m, lr=0.1):
    return lr * g, 0.5"""


@pytest.mark.parametrize("source", [SHARED_STATE, SHARED_COMPUTED], ids=["input", "computed"])
def test_two_states_returning_one_value(source):
    assert check_program(parse(source), 1) == []


def test_batched_state_computed_from_constants():
    assert check_program(parse(CONSTANT_STATE), 1) == []


@pytest.mark.xfail(strict=True, reason="primitives/compile (Executor.step_ and the export): "
                   "interp(x, y, a) runs as torch.lerp, x + a (y - x), which is NaN for an "
                   "infinite x where the op's (1 - a) x + a y is infinite (here 1 / m at m = 0, "
                   "then tanh: 1 against NaN); lerp's other branch (a >= 0.5) agrees")
def test_interp_of_an_infinite_value():
    assert check_program(parse(LERP_OF_INF), 1) == []
