"""B different programs trained together on one task: one batched loss and gradient for all.

:func:`evaluate_population` is :func:`tasks.protocol.evaluate` for a batch of programs (a
search's untrained children): the ``B x K`` copies (K = learning rates x seeds per program) are
stacked on one leading dimension as flat ``[B * K, P]`` rows, the task's loss and gradient run
once under ``torch.func.vmap`` over all of them (with one seed, the batch once for every copy),
and the programs step their copies:

- the groupable ones (:func:`primitives.compile.groupable`: elementwise ops, constants and
  reductions; every child of a search but the rare ``numel``/``ndim``/``h`` users) all at once,
  by one generated function that runs each op once for every program that has it
  (:class:`primitives.compile.GroupedStep`, op-grouped), so that on small tasks, where a step is
  call overhead, B programs cost little more than one;
- the others each on its own slice with its compiled out-of-place step
  (:meth:`primitives.Executor.batched_update`, as in :mod:`tasks.batched`).

A copy that diverges is frozen and scored as the worst value on its own; randomness still comes
only from ``(task, seed, step)``, so every program sees the batches it would see alone and each
:class:`~tasks.protocol.Result` equals the one :func:`~tasks.protocol.evaluate` gives for that
program (float64: to rounding, 1e-9), for any B and any order of the programs.

``discover bench population`` measures it against one program at a time (16 search-like
children, one core, loaded): 7-10x the evaluations per minute on the small tasks (quadratics,
Rosenbrock, NQM, logistic regression); about 1-2x where the arithmetic itself dominates (the
8191-coordinate Zipf quadratic, sparse logistic regression's 1024 x 256 matmuls, the MLP), since
batching programs does not change the number of operations there.

Example::

    >>> from primitives import parse
    >>> from tasks.synthetic import quadratic
    >>> sgd = parse("def sgd(w, g, lr=0.1):\\n    return lr * g")
    >>> mom = parse("def mom(w, g, m, lr=0.1):\\n    m = interp(g, m, 0.9)\\n    return lr * m, m")
    >>> [r.program for r in evaluate_population([sgd, mom], quadratic("proxy").with_steps(5))]
    ['sgd', 'mom']
"""

from __future__ import annotations

import time
from typing import Mapping, Sequence

import torch

from primitives import Executor, Program, parse
from primitives.compile import GroupedStep, groupable
from primitives.errors import InvalidValue

from .base import Task, resolve_device
from .batched import BatchedTrainer, fit, stack
from .guard import check_state, check_step
from .protocol import (DEFAULT_LRS, WORST_METRIC, Result, _batch, _check_grid, _result,
                       loss_curves)

__all__ = ["evaluate_population"]


class _Member:
    """One program of the population: its trainer (storage layout, update) and its state."""

    def __init__(self, executor, task, names, shapes, k, inits, n_seed, grid, hyper, device,
                 dtype, flat=None):
        self.program = executor.program
        self.executor = executor
        self.fixed = self.executor.hyperparameters(hyper)
        self.trainer = BatchedTrainer(self.executor, task, names, shapes, k, flat=flat)
        params = [[inits[c % n_seed][n] for n in names] for c in range(k)]
        copy_hyper = [dict(self.fixed, **({"lr": grid[c // n_seed]} if grid else {}))
                      for c in range(k)]
        self.state = self.trainer.init_state(params, copy_hyper)
        check_state(self.state, k)  # the search's bounds (tasks.guard); no-op outside them
        self.hyper = dict(self.fixed)
        if grid:
            self.hyper["lr"] = torch.tensor([h["lr"] for h in copy_hyper], dtype=dtype,
                                            device=device)

    def step(self, weights, grads, t, loss, batch, seeds, step):
        """New weights (per-parameter layout) and state for this program's K copies; ``h``
        (for programs that read it) from the same probes as alone, on this slice only."""
        tr = self.trainer
        storage = tr.to_storage(weights)
        h = None
        if tr.needs_h:
            seed_of_copy = torch.arange(tr.k, device=storage[0].device) % len(seeds)
            with torch.enable_grad():
                h = tr.hessian_diagonal(storage, batch, seeds, seed_of_copy, step)
        upd, new_state = tr.update(storage, tr.to_storage(grads), self.state, self.hyper, t, loss,
                                   h)
        return tr.to_params([w - u for w, u in zip(storage, upd)]), new_state


def evaluate_population(programs: Sequence[Program | str], task: Task,
                        lrs: Sequence[float] | None = DEFAULT_LRS, seeds: Sequence[int] = (0, 1),
                        device: str | torch.device = "cpu",
                        hypers: Sequence[Mapping[str, float] | None] | None = None, *,
                        dtype: torch.dtype = torch.float32,
                        closed_form: bool | None = None, grouped: bool = True) -> list[Result]:
    """:func:`tasks.protocol.evaluate` of every program of ``programs`` on ``task``, trained as
    one batched computation; ``hypers``: each program's other hyperparameters (or None).

    ``closed_form``: take gradients and losses from the task's ``closed_form(x)`` (an analytic
    task of one parameter: ``x`` stacked ``[N, dim]`` -> gradient and loss, no autograd; the
    micro tier, :mod:`tasks.micro`) instead of autograd; None: whenever the task has one.
    ``grouped``: step the groupable programs together, op-grouped (False: each program on its
    own slice; the same numbers, slower).
    """
    start = time.perf_counter()
    programs = [parse(p) if isinstance(p, str) else p for p in programs]
    if not programs:
        raise InvalidValue("evaluate_population needs at least one program")
    hypers = list(hypers) if hypers is not None else [None] * len(programs)
    if len(hypers) != len(programs):
        raise InvalidValue(f"{len(hypers)} hyperparameter sets for {len(programs)} programs")
    device = resolve_device(device)
    seeds = tuple(seeds)
    executors = [Executor(p) for p in programs]
    grids = [_check_grid(p, ex.hyperparameters(h), h, lrs, seeds)
             for p, ex, h in zip(programs, executors, hypers)]
    grid = grids[0]
    n_lr, n_seed, b = (len(grid) if grid else 1), len(seeds), len(programs)
    k = n_lr * n_seed

    inits = [task.init(s, device, dtype) for s in seeds]
    names = list(inits[0])
    shapes = [inits[0][n].shape for n in names]
    # the grouped programs take the first rows, the others follow; results in the given order
    together = [i for i, p in enumerate(programs) if grouped and groupable(p, len(names))]
    order = together + [i for i in range(b) if i not in set(together)]
    members = [_Member(executors[i], task, names, shapes, k, inits, n_seed, grids[i], hypers[i],
                       device, dtype, flat=True if i in together else None) for i in order]
    # the loss, gradient and metric of all B x K copies; weights flat [B * K, P]
    shared = BatchedTrainer(members[0].executor, task, names, shapes, b * k, flat=True)
    weights = shared.to_storage(stack([[inits[c % n_seed][n] for n in names]
                                       for c in range(b * k)]))[0]
    val_batch = task.validation_batch(device, dtype)
    with torch.no_grad():
        initial = shared.metric([p[:n_seed] for p in shared.to_params([weights])], val_batch)
    if closed_form is None:
        closed_form = hasattr(task, "closed_form") and len(names) == 1
    if closed_form and not (hasattr(task, "closed_form") and len(names) == 1):
        raise InvalidValue(f"{task.name} has no closed-form gradient")
    one_batch = n_seed == 1  # every copy sees the one seed's batch: computed once, not stacked
    grad_and_loss = ((lambda w, batch: _closed(task, w)) if closed_form else
                     lambda w, batch: _autograd(shared, w, batch, one_batch))
    step = _Grouped(members[:len(together)], k, grid, n_seed, device, dtype) if together else None
    weights, alive, losses = _train(shared, grad_and_loss, step, members[len(together):],
                                    weights, seeds, n_lr, device, dtype)
    with torch.no_grad():
        final = shared.metric(shared.to_params([weights]), val_batch)
    ok = alive & torch.isfinite(final)
    final = torch.where(ok, final, WORST_METRIC)
    now = time.perf_counter()
    share = now - (now - start) / b  # each row's wall time: 1/B of the whole
    results = [None] * b
    for row, (i, m) in enumerate(zip(order, members)):
        cut = slice(row * k, (row + 1) * k)
        results[i] = _result(m.program, task, grids[i], seeds, final[cut], initial, ok[cut],
                             losses[:, cut], m.fixed, share, device)
    return results


def _closed(task, weights):
    """``(gradient, loss)`` of the stacked points ``[N, dim]`` of a one-parameter analytic
    task."""
    return task.closed_form(weights)


def _autograd(shared, weights, batch, one_batch):
    """``(gradient, loss)`` of the flat ``[B * K, P]`` weights by the task's loss."""
    grads, loss = shared.grad_and_loss([weights], batch, shared=one_batch)
    return grads[0], loss


class _Grouped:
    """The elementwise programs (the first rows) stepped by one :class:`GroupedStep`."""

    def __init__(self, members, k, grid, n_seed, device, dtype):
        width = members[0].trainer.sizes
        self.rows = len(members) * k
        batched = ("lr",) if grid else ()
        self.step = GroupedStep([m.program for m in members], k, sum(width),
                                [m.fixed for m in members], batched, sizes=width,
                                dtype=dtype, device=device)
        self.state = self.step.init_state([{n: v[0] for n, v in m.state.items()}
                                           for m in members])
        self.hyper = {}
        if grid:
            per_copy = torch.tensor([grid[c // n_seed] for c in range(k)], dtype=dtype,
                                    device=device)
            self.hyper["lr"] = per_copy.repeat(len(members)).unsqueeze(1)


def _train(shared, grad_and_loss, grouped, members, weights, seeds, n_lr, device, dtype):
    """:func:`tasks.protocol._train` over B programs: one gradient for all copies, the grouped
    programs stepped together, each other program on its slice; a copy that diverges keeps its
    last finite weights.

    A dead copy's state is not frozen: it is never read by another copy (rows do not mix) nor
    reported (its metric is the worst, its curve NaN); its weights are, since the task's loss
    reads them. A copy is alive while its loss and the sum of its weights are finite (the test
    of :func:`tasks.batched.all_finite`)."""
    task, total = shared.task, shared.k
    k = grouped.step.k if grouped is not None else members[0].trainer.k
    first = grouped.rows if grouped is not None else 0
    whole = first == total
    n_prog = total // k
    alive = torch.ones(total, dtype=torch.bool, device=device)
    everyone = device.type == "cpu"  # no copy has died yet (on CUDA: not asked, a sync)
    losses, alive_before = [], []
    one_batch = len(seeds) == 1
    for step in range(task.num_steps):
        check_step()  # the search's per-evaluation deadline (tasks.guard)
        batch = (task.batches(seeds[0], step, device, dtype) if one_batch else
                 _batch(task, seeds, n_lr * n_prog, step, device, dtype))
        grads, loss = grad_and_loss(weights, batch)
        t = float(step + 1)
        with torch.no_grad():
            parts, states = [], []
            if grouped is not None:
                new_w, grouped.state = grouped.step(
                    weights if whole else weights[:first], grads if whole else grads[:first],
                    loss if whole else loss[:first], t, grouped.hyper, grouped.state)
                parts.append(new_w)
            for i, m in enumerate(members):
                cut = slice(first + i * k, first + (i + 1) * k)
                mine = ([x.expand(k, *x.shape) for x in batch] if one_batch else
                        [x[cut] for x in batch])  # for h's probes
                new_w, new_state = m.step(shared.to_params([weights[cut]]),
                                          shared.to_params([grads[cut]]), t, loss[cut], mine,
                                          seeds, step)
                parts.append(shared.to_storage(new_w)[0])
                states.append(new_state)
            new_weights = torch.cat(parts) if len(parts) > 1 else parts[0]
            losses.append(loss)
            alive_before.append(alive)
            ok = torch.isfinite(new_weights.sum(1) + loss)
            if everyone and bool(ok.all()):
                weights = new_weights
            else:
                everyone = False
                alive = alive & ok
                weights = torch.where(alive.view(-1, 1), new_weights, weights)
            for m, new_state in zip(members, states):
                m.state = {s: [fit(v, o) for v, o in zip(new_state[s], m.state[s])]
                           for s in m.state}
        if step % 50 == 49 and not bool(alive.any()):
            break
    return weights, alive, loss_curves(losses, alive_before, task.num_steps, total, device, dtype)
