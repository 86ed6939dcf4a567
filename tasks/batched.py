"""K copies of one task trained by one program as a single batched computation.

The evaluation protocol (:mod:`tasks.protocol`) runs a learning-rate grid times a few seeds; this
module holds the machinery that makes those K runs one computation:

- **Gradients**: the task's loss runs under ``torch.func.vmap`` over the K stacked parameter sets,
  and reverse-mode autograd of the *sum* of the K losses gives every copy's own gradient (the
  copies share no parameters, so the sum's gradient with respect to copy k's parameters is copy
  k's gradient). This is the same number ``vmap(grad(loss))`` gives, at about a third of the
  per-step overhead on CPU, where these small tasks are overhead-bound.
- **Update**: the program steps all copies at once with the compiled out-of-place step
  (:meth:`primitives.Executor.batched_update`, the learning rate being a ``[K]`` tensor; each
  copy's own loss for Polyak-type rules).
- **Layout**: a program made only of elementwise ops and group reductions does not care how the
  parameters of a group are cut into tensors, so its weights, gradients and state are kept as one
  flat ``[K, P]`` tensor: one op per statement instead of one per tensor. A purely elementwise
  program needs no vmap at all: with ``lr`` shaped ``[K, 1]`` broadcasting gives each copy its
  own value. Programs with per-tensor reductions or matrix ops keep one tensor per parameter.

Example: four copies of the quadratic's parameters, their gradients and losses in one call::

    >>> from primitives import parse
    >>> from tasks.synthetic import quadratic
    >>> task = quadratic("proxy")
    >>> params = task.init(seed=0)
    >>> names, shapes = list(params), [p.shape for p in params.values()]
    >>> sgd = Executor(parse("def sgd(w, g, lr=0.1):\\n    return lr * g"))
    >>> trainer = BatchedTrainer(sgd, task, names, shapes, k=4)
    >>> storage = trainer.to_storage([params[n].expand(4, *params[n].shape) for n in names])
    >>> grads, losses = trainer.grad_and_loss(storage, task.batches(seed=0, step=0))
    >>> grads[0].shape, losses.shape  # one flat [K, P] tensor: SGD is elementwise
    (torch.Size([4, 32]), torch.Size([4]))
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from primitives import Executor, OPS

from .base import Task, generator

__all__ = ["BatchedTrainer", "stack", "fit", "keep", "all_finite"]

_FLAT_KINDS = {"elementwise", "constant", "group_reduction"}


def stack(trees: Sequence[Sequence[torch.Tensor]]) -> list[torch.Tensor]:
    """K lists of tensors -> one list of tensors with a leading K dim."""
    return [torch.stack(parts) for parts in zip(*trees)]


def fit(new, old: torch.Tensor) -> torch.Tensor:
    """``new`` as a tensor of ``old``'s shape (a program may return a scalar as state)."""
    if isinstance(new, torch.Tensor):
        if new.shape == old.shape:
            return new
        if new.numel() == old.numel():  # a [K, 1] column of per-copy scalars
            return new.reshape(old.shape)
    return torch.as_tensor(new, dtype=old.dtype, device=old.device).expand_as(old)


def keep(alive: torch.Tensor, new, old: torch.Tensor) -> torch.Tensor:
    """``new`` for living copies, ``old`` for frozen ones (``alive``: bool ``[K]``)."""
    return torch.where(alive.view(-1, *([1] * (old.ndim - 1))), fit(new, old), old)


class BatchedTrainer:
    """Gradients and program updates for K stacked copies of ``task``'s parameters.

    ``shapes`` are the per-copy parameter shapes, in the order of the lists passed around.
    Weights and state live in the *storage* layout (:meth:`to_storage`); the loss sees the
    per-parameter view (:meth:`to_params`).
    """

    def __init__(self, executor: Executor, task: Task, names: Sequence[str],
                 shapes: Sequence[torch.Size], k: int, flat: bool | None = None):
        """``flat``: keep weights as one ``[K, P]`` tensor (None: when the program allows it)."""
        self.executor, self.task, self.k = executor, task, k
        self.names, self.shapes = list(names), [torch.Size(s) for s in shapes]
        self.sizes = [s.numel() for s in self.shapes]
        kinds = {OPS[s.op].kind for s in executor.program.body}
        self.flat = kinds <= _FLAT_KINDS if flat is None else flat
        self.elementwise = kinds <= {"elementwise", "constant"}
        inputs = executor.program.input_names
        self.needs_loss, self.needs_h = "loss" in inputs, "h" in inputs
        self._losses = torch.func.vmap(self._loss)
        self._shared_losses, self._batch = None, None
        self.metric = torch.func.vmap(
            lambda p, b: task.metric(dict(zip(self.names, p)), b), in_dims=(0, None))

    def _loss(self, params, batch):
        return self.task.loss(dict(zip(self.names, params)), batch)

    # ---- layout -------------------------------------------------------------------------------

    def to_storage(self, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Per-parameter ``[K, *shape]`` tensors -> the storage layout."""
        if not self.flat:
            return list(tensors)
        if len(tensors) == 1:  # one tensor: a view where it can be
            return [tensors[0].reshape(tensors[0].shape[0], -1)]
        return [torch.cat([t.reshape(t.shape[0], -1) for t in tensors], 1)]  # [K, P]

    def to_params(self, storage: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The storage layout -> per-parameter ``[K, *shape]`` tensors (views, no copy)."""
        if not self.flat:
            return list(storage)
        flat = storage[0]
        if len(self.shapes) == 1:
            return [flat.view(flat.shape[0], *self.shapes[0])]
        return [part.view(flat.shape[0], *shape)
                for part, shape in zip(flat.split(self.sizes, dim=1), self.shapes)]

    def init_state(self, copies: Sequence[Sequence[torch.Tensor]],
                   hypers: Sequence[Mapping[str, object]]) -> dict[str, list[torch.Tensor]]:
        """The program's start state for each copy (its own hyperparameters), stacked."""
        program = self.executor.program
        names, inits = program.state_names, program.state_inits
        if not names:
            return {}

        def start(params, hyper):
            stored = self.to_storage([p.unsqueeze(0) for p in params])
            return self.executor.init_state([s[0] for s in stored], hyper)

        first = start(copies[0], hypers[0])
        # a state that starts at a number (or at a hyperparameter every copy shares) is the same
        # for every copy: made once; one that starts at w (or a per-copy value), per copy
        per_copy = [n for n in names if inits[n] == "w" or (isinstance(inits[n], str) and any(
            self.executor.hyperparameters(h)[inits[n]] != self.executor.hyperparameters(
                hypers[0])[inits[n]] for h in hypers))]
        rest = [start(params, hyper) for params, hyper in zip(copies[1:], hypers[1:])] \
            if per_copy else []
        out = {}
        for n in names:
            if n in per_copy:
                out[n] = stack([first[n]] + [st[n] for st in rest])
            else:
                out[n] = [t.unsqueeze(0).expand(len(copies), *t.shape).clone() for t in first[n]]
        return out

    # ---- one step -----------------------------------------------------------------------------

    def grad_and_loss(self, storage, batch, shared: bool = False
                      ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Per-copy gradients (storage layout) and losses ``[K]`` at ``storage``; ``shared``:
        ``batch`` is one batch for every copy (no copy dim: one matmul where a per-copy batch
        takes K)."""
        leaves = [p.detach().requires_grad_() for p in self.to_params(storage)]
        with torch.enable_grad():
            if shared:
                # the batch is not vmapped but read from here: vmap then maps only the
                # parameters, a flat tuple of tensors (less of its per-call argument handling)
                if self._shared_losses is None:
                    self._shared_losses = torch.func.vmap(
                        lambda *params: self._loss(params, self._batch))
                self._batch = batch
                losses = self._shared_losses(*leaves)
                self._batch = None
            else:
                losses = self._losses(leaves, batch)  # [K]
            grads = torch.autograd.grad(losses.sum(), leaves, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, leaves)]
        return self.to_storage(grads), losses.detach()

    def hessian_diagonal(self, storage, batch, seeds, seed_of_copy, step):
        """Hutchinson's estimate ``z * (H z)``, Rademacher ``z`` drawn from (task, seed, step)."""
        params = [p.detach() for p in self.to_params(storage)]
        probes = []
        for s in seeds:
            g = generator(self.task.name, "hutchinson", s, step)
            probes.append([torch.randint(0, 2, p.shape[1:], generator=g) * 2 - 1 for p in params])
        z = [t.to(params[0].device, params[0].dtype)[seed_of_copy] for t in stack(probes)]

        def hvp(p, b, v):
            return torch.func.jvp(lambda q: torch.func.grad(self._loss)(q, b), (p,), (v,))[1]

        hz = torch.func.vmap(hvp)(params, batch, z)
        return self.to_storage([zi * hzi for zi, hzi in zip(z, hz)])

    def update(self, storage, grads, state, hyper, t: float, loss: torch.Tensor, h=None):
        """``(updates, new_state)`` for all copies; batched hypers are ``[K]`` tensors."""
        if self.elementwise:
            # broadcasting does what vmap would: a per-copy scalar (a [K] hyperparameter, loss or
            # 0-d state) becomes a [K, 1] column that meets its own row of the [K, P] weights
            def column(v):
                return v.view(-1, 1) if isinstance(v, torch.Tensor) and v.ndim == 1 else v

            upd, new = self.executor.update_compiled(
                storage, grads, {n: [column(v) for v in vs] for n, vs in state.items()},
                {n: column(v) for n, v in hyper.items()}, t,
                column(loss) if self.needs_loss else None, h)
            return upd, {n: [fit(v, old) for v, old in zip(vs, state[n])] for n, vs in new.items()}
        return self.executor.batched_update(storage, grads, state, hyper, t,
                                            loss if self.needs_loss else None, h)


def all_finite(tensors: Sequence[torch.Tensor], k: int) -> torch.Tensor:
    """bool ``[K]``: every entry of copy k, in every tensor, is finite.

    Tested on the sum of each copy's entries, which a NaN or inf makes non-finite, at a fraction
    of the cost of an elementwise ``isfinite``; the sum can also overflow, but only for weights
    beyond ``float_max / numel`` (about 1e34 for a float32 model of 10^4 weights): diverged anyway.
    """
    total = tensors[0].reshape(k, -1).sum(1)
    for t in tensors[1:]:
        total = total + t.reshape(k, -1).sum(1)
    return torch.isfinite(total)
