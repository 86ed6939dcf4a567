"""The evaluation protocol: score an update rule on a task over a learning-rate grid and seeds.

:func:`evaluate` trains ``K = len(lrs) * len(seeds)`` copies of the task's model as one batched
computation (:mod:`tasks.batched`): the K parameter sets are stacked on a leading dimension, the
task's loss runs under ``torch.func.vmap`` to give per-copy losses and gradients, and the program
steps all copies at once through :meth:`primitives.Executor.batched_update` with ``lr`` as a
``[K]`` tensor. A copy whose loss or parameters become non-finite is frozen at its last finite
parameters and scored as the worst value (``inf``); divergence is an outcome, never an exception.
The best learning rate is the one with the lowest mean (over seeds) final validation metric.

Randomness comes only from ``(task.name, seed, step)``: the task's initial parameters and batches
(see :func:`tasks.base.generator`) and, for programs that read ``h``, the Hutchinson probe
vectors. Every program sees the same initialisations and batches (common random numbers), so
differences between programs are not sampling noise, and results do not depend on order or on
how many workers share the evaluations.

:func:`normalised_score` puts metrics from different tasks on one scale against a baseline
(AdamW under this same protocol) so they can be averaged.

Example::

    >>> from primitives import parse
    >>> from tasks.synthetic import quadratic
    >>> sgd = parse("def sgd(w, g, lr=0.1):\\n    return lr * g")
    >>> result = evaluate(sgd, quadratic("proxy"))
    >>> result.best_lr in result.lrs
    True
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import torch

from primitives import Executor, Program, parse
from primitives.errors import InvalidValue

from .base import Task, resolve_device
from .batched import BatchedTrainer, all_finite, fit, keep, stack
from .guard import check_state, check_step

__all__ = ["DEFAULT_LRS", "Result", "evaluate", "normalised_score", "WORST_METRIC"]

#: eight half-decade points from 10^-3.5 to 1: Lion-like (3e-4), Adam-like (1e-3 to 3e-2) and
#: SGD-like (0.1 to 1) rules all have their best learning rate inside the grid on the proxy tasks
DEFAULT_LRS = tuple(10.0 ** (-3.5 + 0.5 * i) for i in range(8))

#: the metric a diverged copy gets
WORST_METRIC = math.inf


@dataclass(frozen=True)
class Result:
    """One program on one task: what a leaderboard row and a learning-curve plot need.

    Indexing: ``[i][j]`` is learning rate ``lrs[i]`` and seed ``seeds[j]``. Non-finite numbers
    mean divergence (``inf`` metrics; ``nan`` training losses after the step a copy diverged).
    """

    program: str  # the program's name
    source: str  # the program's source, so a row can be re-run
    task: str
    family: str
    size: str
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    num_steps: int
    best_lr: float | None  # None when every learning rate diverged
    metric: float  # validation metric at best_lr, mean over seeds (inf if all diverged)
    metrics: tuple[float, ...]  # per lr, mean over seeds
    metrics_per_seed: tuple[tuple[float, ...], ...]  # [lr][seed]
    initial_metric: float  # validation metric at initialisation, mean over seeds
    diverged: tuple[tuple[bool, ...], ...]  # [lr][seed]
    curve: tuple[float, ...]  # training loss per step at best_lr, mean over seeds
    curves: tuple[tuple[tuple[float, ...], ...], ...]  # training loss [lr][seed][step]
    hyper: dict  # the other hyperparameters (everything but lr)
    wall_time: float  # seconds for the whole evaluation
    device: str

    def to_dict(self) -> dict:
        """A JSON-safe dict: non-finite floats become ``None``."""
        return _json_safe(asdict(self))


def _json_safe(x):
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def normalised_score(metric: float, baseline_metric: float, initial_metric: float, *,
                     floor: float = 1e-8, max_score: float = 2.0) -> float:
    """Progress of ``metric`` relative to the baseline's, on a log scale, clipped to [0, max_score].

    ``score = (log m0 - log m) / (log m0 - log m_base)`` with ``m0`` the metric at initialisation
    (same for every program: common random numbers), each value first floored at ``floor``.
    1 means as good as the baseline (AdamW), 0 means no better than the starting point, and a
    NaN/inf metric (divergence) scores 0, the worst value. The log scale lets a task where losses
    shrink by decades (quadratics) and one where they shrink by a few percent (cross-entropy) be
    averaged; the clip keeps one task from dominating the mean. If the baseline made no progress
    (``m_base >= m0``) the score is 1 for any progress at least as large as the baseline's, else 0.

    Example::

        >>> normalised_score(0.01, 0.1, 1.0)  # two decades where AdamW managed one
        2.0
        >>> normalised_score(float("nan"), 0.1, 1.0)
        0.0
    """
    if not math.isfinite(metric):
        return 0.0
    log0 = math.log(max(initial_metric, floor))
    log_m = math.log(max(metric, floor))
    log_base = math.log(max(baseline_metric, floor)) if math.isfinite(baseline_metric) else log0
    if log0 - log_base <= 0.0:
        return 1.0 if log_m <= log_base else 0.0
    return min(max((log0 - log_m) / (log0 - log_base), 0.0), max_score)


def evaluate(program: Program | str, task: Task, lrs: Sequence[float] | None = DEFAULT_LRS,
             seeds: Sequence[int] = (0, 1), device: str | torch.device = "cpu",
             hyper: Mapping[str, float] | None = None, *,
             dtype: torch.dtype = torch.float32) -> Result:
    """Train ``task`` with ``program`` for every (lr, seed) pair at once and score it.

    Args:
        program: a :class:`primitives.Program` or its source.
        task: the task; its ``num_steps`` is the budget (``task.with_steps(n)`` for a shorter one).
        lrs: the learning-rate grid; ``None`` runs the program's own ``lr`` (or a program with no
            ``lr`` hyperparameter) once per seed.
        seeds: the seeds; each seed has its own initialisation and batches.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        hyper: values for the program's other hyperparameters (defaults otherwise); unknown
            names are an error, and so is ``lr`` when a grid is given.
        dtype: float32, or float64 for exact comparisons.
    """
    start = time.perf_counter()
    program = parse(program) if isinstance(program, str) else program
    device = resolve_device(device)
    executor = Executor(program)
    fixed = executor.hyperparameters(hyper)  # checks the names
    grid = _check_grid(program, fixed, hyper, lrs, seeds)
    seeds = tuple(seeds)
    n_lr, n_seed = (len(grid) if grid else 1), len(seeds)
    k = n_lr * n_seed  # copy c is (lr c // n_seed, seed c % n_seed)

    inits = [task.init(s, device, dtype) for s in seeds]
    names = list(inits[0])
    trainer = BatchedTrainer(executor, task, names, [inits[0][n].shape for n in names], k)
    copy_params = [[inits[c % n_seed][n] for n in names] for c in range(k)]
    copy_hyper = [dict(fixed, **({"lr": grid[c // n_seed]} if grid else {})) for c in range(k)]
    state = trainer.init_state(copy_params, copy_hyper)
    check_state(state, k)  # the search's bounds (tasks.guard); no-op outside them
    weights = trainer.to_storage(stack(copy_params))
    batched_hyper = dict(fixed)
    if grid:
        batched_hyper["lr"] = torch.tensor([h["lr"] for h in copy_hyper], dtype=dtype, device=device)

    val_batch = task.validation_batch(device, dtype)
    with torch.no_grad():  # copies 0 .. n_seed - 1 are the seeds' initialisations
        initial = trainer.metric([p[:n_seed] for p in trainer.to_params(weights)], val_batch)
    weights, alive, losses = _train(trainer, weights, state, batched_hyper, seeds, n_lr, device, dtype)
    with torch.no_grad():
        final = trainer.metric(trainer.to_params(weights), val_batch)
    ok = alive & torch.isfinite(final)
    final = torch.where(ok, final, WORST_METRIC)
    return _result(program, task, grid, seeds, final, initial, ok, losses, fixed, start, device)


def _check_grid(program, fixed, hyper, lrs, seeds) -> tuple[float, ...] | None:
    """The learning-rate grid as floats (None: no grid); one-line errors for bad arguments."""
    if not seeds:
        raise InvalidValue("seeds is empty; give at least one seed, e.g. seeds=(0,)")
    if lrs is None:
        return None
    if "lr" not in fixed:
        raise InvalidValue(f"{program.name} has no 'lr' hyperparameter to tune; pass lrs=None")
    if hyper and "lr" in hyper:
        raise InvalidValue("give lr either in hyper or as the lrs grid, not both")
    if not lrs:
        raise InvalidValue("lrs is empty; give learning rates, or lrs=None for the program's own")
    return tuple(float(x) for x in lrs)


def _train(trainer, weights, state, hyper, seeds, n_lr, device, dtype):
    """The training loop of all K copies; returns final weights, alive ``[K]`` and losses
    ``[steps, K]`` (NaN after a copy diverged).

    A copy is alive while its loss and weights are finite; a copy that dies keeps its last
    finite weights and state (frozen), so NaN never flows through later steps.
    """
    task, k = trainer.task, trainer.k
    seed_of_copy = torch.arange(k, device=device) % len(seeds)
    alive = torch.ones(k, dtype=torch.bool, device=device)
    losses, alive_before = [], []  # per step, stacked once at the end (no per-step copies)
    for step in range(task.num_steps):
        check_step()  # the search's per-evaluation deadline (tasks.guard)
        batch = _batch(task, seeds, n_lr, step, device, dtype)
        grads, loss = trainer.grad_and_loss(weights, batch)
        h = (trainer.hessian_diagonal(weights, batch, seeds, seed_of_copy, step)
             if trainer.needs_h else None)
        with torch.no_grad():
            upd, new_state = trainer.update(weights, grads, state, hyper, float(step + 1), loss, h)
            new_weights = [w - u for w, u in zip(weights, upd)]
            losses.append(loss)
            alive_before.append(alive)
            alive = alive & all_finite([loss, *new_weights], k)
            # on CUDA, testing alive.all() would sync every step: select unconditionally there
            if device.type == "cpu" and bool(alive.all()):
                weights = new_weights
                state = {s: [fit(n, o) for n, o in zip(new_state[s], state[s])] for s in state}
            else:
                weights = [keep(alive, n, w) for n, w in zip(new_weights, weights)]
                state = {s: [keep(alive, n, o) for n, o in zip(new_state[s], state[s])]
                         for s in state}
        if step % 50 == 49 and not bool(alive.any()):
            break  # every copy diverged: the rest would change nothing
    return weights, alive, loss_curves(losses, alive_before, task.num_steps, k, device, dtype)


def loss_curves(losses, alive_before, num_steps, k, device, dtype) -> torch.Tensor:
    """``[steps, K]`` training losses, NaN once a copy diverged and after an early stop."""
    curves = torch.full((num_steps, k), math.nan, dtype=dtype, device=device)
    if losses:
        done = len(losses)
        curves[:done] = torch.where(torch.stack(alive_before), torch.stack(losses), math.nan)
    return curves


def _batch(task, seeds, n_lr, step, device, dtype) -> tuple:
    """The batch of ``step`` for each copy: one batch per seed, repeated for every learning rate.

    Copy ``c`` is (lr ``c // n_seed``, seed ``c % n_seed``); with one seed this is a view.
    """
    per_seed = [task.batches(s, step, device, dtype) for s in seeds]
    out = []
    for parts in zip(*per_seed):
        stacked = torch.stack(parts)  # [n_seed, ...]
        out.append(stacked.expand(n_lr, *stacked.shape).reshape(-1, *stacked.shape[1:]))
    return tuple(out)


def _result(program, task, grid, seeds, final, initial, ok, losses, fixed, start, device) -> Result:
    n_seed = len(seeds)
    n_lr = len(grid) if grid else 1
    per_seed = final.double().cpu().reshape(n_lr, n_seed)
    means = per_seed.mean(1)  # inf if any seed diverged: a learning rate must work for every seed
    curves = losses.double().cpu().T.reshape(n_lr, n_seed, -1)
    best = int(torch.argmin(means)) if bool(torch.isfinite(means).any()) else None
    if grid:
        best_lr = grid[best] if best is not None else None
    else:
        best_lr = float(fixed["lr"]) if "lr" in fixed and best is not None else None
    return Result(
        program=program.name, source=program.source, task=task.name, family=task.family,
        size=task.size, lrs=grid or ((float(fixed["lr"]),) if "lr" in fixed else (math.nan,)),
        seeds=seeds, num_steps=task.num_steps, best_lr=best_lr,
        metric=float(means[best]) if best is not None else WORST_METRIC,
        metrics=tuple(means.tolist()), metrics_per_seed=tuple(map(tuple, per_seed.tolist())),
        initial_metric=float(initial.double().mean()),
        diverged=tuple(map(tuple, (~ok).cpu().reshape(n_lr, n_seed).tolist())),
        curve=tuple(curves[best].mean(0).tolist()) if best is not None else (),
        curves=tuple(tuple(map(tuple, c)) for c in curves.tolist()),
        hyper={k: v for k, v in fixed.items() if k != "lr"},
        wall_time=time.perf_counter() - start, device=str(device),
    )
