"""Running a program: one step of an update rule over every tensor of a parameter group.

Values inside a step are either *scalars* (Python floats or 0-d tensors: hyperparameters, ``t``,
``loss``, constants, group reductions) or *per-parameter lists* (one tensor per parameter of the
group: ``w``, ``g``, state, ``h`` and everything computed from them). Scalar statements are
evaluated once per step, not once per tensor.

Three entry points:

- :meth:`Executor.update`: pure and out-of-place; gradients flow through it (the differentiable
  mode, used by meta-gradients), and it is the readable reference for the fast path.
- :meth:`Executor.step_`: the fast path an optimizer uses: weights and state are updated in
  place by the compiled fused step (:mod:`primitives.compile`), the code an export runs.
- :meth:`Executor.batched_update`: K settings in one computation. Hyperparameters given as
  tensors of shape ``[K]`` and weights/gradients/state with a leading ``K`` dimension; the
  per-copy step runs under ``torch.func.vmap`` so reductions and matrix ops act on each copy.

Example::

    >>> from primitives import parse
    >>> ex = Executor(parse("def sgd(w, g, lr=0.1):\\n    return lr * g"))
    >>> w = [torch.ones(3)]; state = ex.init_state(w)
    >>> ex.step_(w, [torch.ones(3)], state, t=1)
    >>> w[0]
    tensor([0.9000, 0.9000, 0.9000])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from .compile import load_pure, load_step, scalar_call
from .ops import OPS
from .program import Program, ProgramError

__all__ = ["Executor"]

Tensors = list  # a per-parameter list of tensors


def _call(op, args, n: int):
    """Apply ``op`` to resolved args: per tensor for per-parameter lists, once for scalars."""
    if op.kind == "group_reduction":
        return op.fn(*args)
    if not any(isinstance(a, list) for a in args):
        return scalar_call(op.fn, *args)
    return [op.fn(*(a[i] if isinstance(a, list) else a for a in args)) for i in range(n)]


#: parameters up to this many elements are probed with real CPU zeros, larger ones on "meta"
PROBE_REAL_NUMEL = 4096


#: state shapes by (program, parameter shape), shared by every Executor of the same program
#: (a search checks, fingerprints and scales each child with a fresh one)
_SHAPES: dict = {}
_SHAPES_MAX = 20000


def broadcast_shapes(a: Sequence[int], b: Sequence[int]) -> tuple:
    """``torch.broadcast_shapes(a, b)`` in plain Python (torch's goes through its reference
    implementation, slow in a search's inner loop); raises RuntimeError when they do not fit."""
    a, b = tuple(a), tuple(b)
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise RuntimeError(f"shapes {a} and {b} do not broadcast")
        out.append(y if x == 1 else x)
    return tuple(out)


def probe_tensor(shape: Sequence[int]):
    """A maker of float32 tensors for shape-only runs of a step on parameters of ``shape``.

    ``device="meta"`` tensors cost no memory, but every op on them goes through torch's Python
    reference implementations (about a millisecond per ``clamp``); a small parameter is probed
    with real CPU zeros instead, 10-100 times faster, with the same shapes and the same errors.
    """
    numel = math.prod(shape)
    if numel <= PROBE_REAL_NUMEL:
        return lambda s: torch.zeros(tuple(s), dtype=torch.float32)
    return lambda s: torch.empty(tuple(s), dtype=torch.float32, device="meta")


@dataclass
class _Inputs:
    params: Sequence[torch.Tensor]
    grads: Sequence[torch.Tensor]
    state: Mapping[str, Sequence[torch.Tensor]]
    hyper: Mapping[str, object]
    t: object
    loss: object = None
    h: Sequence[torch.Tensor] | None = None


class Executor:
    """A program prepared for execution (state shapes; the compiled step, loaded on first use)."""

    def __init__(self, program: Program, foreach: bool | None = None):
        """``foreach``: the fast path's backend; None picks per-tensor on CPU, foreach elsewhere."""
        self.program = program
        self.foreach = foreach
        self._shape_cache: dict[tuple, dict[str, tuple]] = {}
        self._step = None

    # ---- hyperparameters and state -----------------------------------------------------------

    def hyperparameters(self, overrides: Mapping[str, object] | None = None) -> dict[str, object]:
        """The program's defaults updated by ``overrides``; unknown names are an error."""
        hyper = dict(self.program.hyperparameters)
        if overrides:
            unknown = set(overrides) - set(hyper)
            if unknown:
                raise ProgramError(f"{self.program.name}: unknown hyperparameter(s) "
                                   f"{sorted(unknown)}; known: {list(hyper)}")
            hyper.update(overrides)
        return hyper

    def state_shapes(self, shape: Sequence[int]) -> dict[str, tuple]:
        """The shape each state tensor needs for a parameter of ``shape``.

        State is as large as the program makes it: a state that only ever holds a row mean
        (Adafactor) or a per-tensor norm (NovoGrad) keeps that reduced shape. Found by running
        the step on probe tensors (:func:`probe_tensor`) from 0-d state until the shapes stop
        changing.
        """
        key = tuple(shape)
        if key not in self._shape_cache and (self.program, key) in _SHAPES:
            self._shape_cache[key] = _SHAPES[self.program, key]
        if key not in self._shape_cache:
            prog = self.program
            shapes = {}
            for name, init in prog.state_inits.items():
                shapes[name] = key if init == "w" else ()
            probe = probe_tensor(key)
            for _ in range(len(shapes) + 2):  # a queue of n states needs n rounds to fill
                state = {n: [probe(s)] for n, s in shapes.items()}
                h = [probe(key)] if "h" in prog.input_names else None
                _, new = self.update([probe(key)], [probe(key)], state, t=1.0, loss=1.0, h=h)
                new_shapes = {n: tuple(broadcast_shapes(
                    shapes[n], tuple(v[0].shape) if isinstance(v[0], torch.Tensor) else ()))
                    for n, v in new.items()}
                if new_shapes == shapes:
                    break
                shapes = new_shapes
            self._shape_cache[key] = shapes
            if len(_SHAPES) >= _SHAPES_MAX:
                _SHAPES.clear()
            _SHAPES[self.program, key] = shapes
        return self._shape_cache[key]

    def init_state(self, params: Sequence[torch.Tensor],
                   hyper: Mapping[str, object] | None = None) -> dict[str, list[torch.Tensor]]:
        """Fresh state for ``params``: zeros unless the program declares a start value."""
        hyper = self.hyperparameters(hyper)
        state = {}
        for name, init in self.program.state_inits.items():
            tensors = []
            for p in params:
                shape = self.state_shapes(p.shape)[name]
                if init == "w":
                    tensors.append(p.detach().clone())
                    continue
                value = hyper[init] if isinstance(init, str) else init
                tensors.append(torch.full(shape, float(value), dtype=p.dtype, device=p.device))
            state[name] = tensors
        return state

    # ---- the reference (pure, differentiable) path ---------------------------------------------

    def _run(self, x: _Inputs) -> tuple[list, dict[str, list]]:
        prog = self.program
        n = len(x.params)
        env: dict[str, object] = {"w": list(x.params), "g": list(x.grads)}
        for p in prog.params:
            if p.role == "state":
                env[p.name] = list(x.state[p.name])
            elif p.role == "hyper":
                env[p.name] = x.hyper[p.name]
        inputs = {"t": x.t, "loss": x.loss, "h": x.h}
        for name in prog.input_names:
            if inputs[name] is None:
                raise ProgramError(f"{prog.name} needs the input {name!r}, which was not given")
            env[name] = list(inputs[name]) if name == "h" else inputs[name]
        for s in prog.body:
            args = [env[a] if isinstance(a, str) else a for a in s.args]
            env[s.target] = _call(OPS[s.op], args, n)
        out = [env[a] if isinstance(a, str) else a for a in prog.returns]
        out = [v if isinstance(v, list) else [v] * n for v in out]
        return out[0], dict(zip(prog.state_names, out[1:]))

    def update(self, params, grads, state, hyper=None, t=1, loss=None, h=None):
        """``(updates, new_state)`` for one step, out of place: ``w_new = w - update``.

        Updates and state entries may be Python floats or 0-d tensors where the program returns a
        scalar; :meth:`step_` broadcasts them.
        """
        hyper = self.hyperparameters(hyper)
        return self._run(_Inputs(params, grads, state, hyper, t, loss, h))

    # ---- the fast in-place path ------------------------------------------------------------------

    def step_(self, params, grads, state, hyper=None, t=1, loss=None, h=None) -> None:
        """One step in place: ``params`` and the tensors in ``state`` are overwritten.

        Runs the compiled fused step (:func:`primitives.compile.compile_step`, the same code an
        exported optimizer runs): per tensor on a CPU, ``torch._foreach_*`` kernels elsewhere
        (``foreach`` given to the constructor overrides that).
        """
        if self._step is None:
            self._step = load_step(self.program)
        foreach = self.foreach
        if foreach is None:
            foreach = params[0].device.type != "cpu"
        given = {"t": t, "loss": loss, "h": h}
        for name in self.program.input_names:
            if given[name] is None:
                raise ProgramError(f"{self.program.name} needs the input {name!r}, which was "
                                   "not given")
        self._step.step_(params, grads, state, self.hyperparameters(hyper), t, loss, h, foreach)

    # ---- K settings at once --------------------------------------------------------------------

    def update_compiled(self, params, grads, state, hyper=None, t=1, loss=None, h=None):
        """:meth:`update` computed by the compiled out-of-place form of the program
        (:func:`primitives.compile.load_pure`): the same numbers, without the interpreter."""
        return load_pure(self.program)(params, grads, state, self.hyperparameters(hyper), t,
                                       loss, h)

    def batched_update(self, params, grads, state, hyper=None, t=1, loss=None, h=None):
        """:meth:`update` for K copies: tensors carry a leading K dim, as do tensor hypers.

        Hyperparameters given as Python numbers are shared by all copies; ``loss``, when the
        program reads it, is a ``[K]`` tensor (each copy's own minibatch loss). Runs the compiled
        out-of-place step under ``torch.func.vmap``, so reductions and matrix ops act per copy.
        """
        hyper = self.hyperparameters(hyper)
        batched = {k: v for k, v in hyper.items() if isinstance(v, torch.Tensor) and v.ndim > 0}
        shared = {k: v for k, v in hyper.items() if k not in batched}
        names = list(self.program.state_names)
        step = load_pure(self.program)

        def one(p, g, s, hb, lo, hh):
            upd, new = step(p, g, dict(zip(names, s)), {**shared, **hb}, t, lo, hh)
            ref = p[0]
            upd = [torch.as_tensor(u, dtype=ref.dtype, device=ref.device).expand_as(q)
                   if not (isinstance(u, torch.Tensor) and u.shape == q.shape) else u
                   for u, q in zip(upd, p)]
            # a state computed from constants alone is a Python float: vmap takes tensors only
            return upd, [[v if isinstance(v, torch.Tensor) else
                          torch.as_tensor(v, dtype=o.dtype, device=o.device).expand_as(o)
                          for v, o in zip(new[k], old)] for k, old in zip(names, s)]

        h_in = list(h) if h is not None else None
        batched_loss = isinstance(loss, torch.Tensor) and loss.ndim > 0
        in_dims = (0, 0, 0, 0, 0 if batched_loss else None, None if h_in is None else 0)
        upd, new = torch.func.vmap(one, in_dims=in_dims)(
            list(params), list(grads), [list(state[k]) for k in names], batched, loss, h_in)
        return upd, dict(zip(names, new))
