"""Pressure networks: small models whose parameter tensors need step sizes decades apart.

- **Reparameterised digits MLP** (T5 in ``reference/discovery.md`` §2.2): the digits MLP of
  :mod:`tasks.vision` trained through ``w = s * w'`` with one scale ``s`` per tensor, log-uniform
  in ``10^-2 .. 10^2``: the loss is ``f(s * w')`` from ``w'_0 = w_0 / s`` (Celo's tensor-level
  ``ReparamWeights``, Moudgil et al. 2025). The function and the start are those of the plain
  task; a gradient step on ``w'`` moves ``w`` by ``s^2`` times as much, so one learning rate
  cannot serve every tensor, while a normalised step moves ``w`` by ``s``.
- **Linear-attention in-context regression** (T6; Ahn et al., 2023, "Linear attention is (maybe)
  all you need"): prompts ``Z_0 = [[x_1 .. x_N, x_q], [y_1 .. y_N, 0]]`` with ``x ~ N(0, I_d)``,
  ``y = w . x`` and ``w ~ N(0, I_d)`` per prompt; ``L`` layers
  ``Z <- Z + P Z_c Z_c^T Q Z / N`` (``Z_c``: the N context columns), the prediction is the last
  entry of ``Z_L``, the loss its squared error on ``y_q``. A transformer-like task small enough
  for the search tier, where Adam is known to beat SGD.

Both draw fresh large batches per step from ``(task, seed, step)``; the metric is the loss on a
fixed validation set.

Example::

    >>> task = linear_attention("proxy")
    >>> sorted(task.init(seed=0))[:2]
    ['layer0.p', 'layer0.q']
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from .base import Batch, Task, TaskFamily, check_size, derive_seed, generator
from .vision import MLPTask

__all__ = ["ReparamMLPTask", "LinearAttentionTask", "reparam_mlp", "linear_attention", "FAMILY"]


@functools.lru_cache(maxsize=32)
def _scales(name: str, names: tuple[str, ...], low: float, high: float) -> dict[str, float]:
    """One scale per tensor, ``10^U(low, high)``, drawn from the task name."""
    rng = np.random.default_rng(derive_seed(name, "reparam"))
    return {n: float(10.0 ** rng.uniform(low, high)) for n in names}


@dataclass(frozen=True)
class ReparamMLPTask(MLPTask):
    """T5: :class:`tasks.vision.MLPTask` with per-tensor scales ``10^U(low, high)``."""

    family = "pressure_nets"
    log_scale_range: tuple[float, float] = (-2.0, 2.0)

    def scales(self, names) -> dict[str, float]:
        return _scales(self.name, tuple(sorted(names)), *self.log_scale_range)

    def init(self, seed, device="cpu", dtype=torch.float32):
        params = super().init(seed, device, dtype)
        s = self.scales(params)
        return {k: v / s[k] for k, v in params.items()}

    def loss(self, params, batch):
        s = self.scales(params)
        return super().loss({k: v * s[k] for k, v in params.items()}, batch)


@dataclass(frozen=True)
class LinearAttentionTask(Task):
    """T6: ``layers`` linear-attention layers on prompts of ``context`` pairs in ``dim``-D."""

    family = "pressure_nets"
    dim: int = 5
    context: int = 20
    layers: int = 3
    batch_size: int = 256
    validation_size: int = 2048
    init_scale: float = 0.02

    def init(self, seed, device="cpu", dtype=torch.float32):
        g = generator(self.name, "init", seed)
        e = self.dim + 1
        params = {}
        for i in range(self.layers):
            params[f"layer{i}.p"] = self.init_scale * torch.randn(e, e, generator=g)
            params[f"layer{i}.q"] = self.init_scale * torch.randn(e, e, generator=g)
        return {k: v.to(device, dtype) for k, v in params.items()}

    def _prompts(self, g: torch.Generator, count: int, device, dtype) -> Batch:
        x = torch.randn(count, self.context + 1, self.dim, generator=g)  # [B, N+1, d]
        w = torch.randn(count, self.dim, 1, generator=g)  # [B, d, 1]
        y = (x @ w).squeeze(-1)  # [B, N+1]
        z = torch.cat([x, y.unsqueeze(-1)], -1).transpose(1, 2).clone()  # [B, d+1, N+1]
        z[:, -1, -1] = 0.0  # the query's label is what is predicted
        return z.to(device, dtype), y[:, -1].to(device, dtype)

    def loss(self, params, batch):
        z, target = batch
        n = self.context
        for i in range(self.layers):
            ctx = z[..., :n]  # [B, d+1, N]
            keys = ctx @ ctx.transpose(-1, -2) / n  # [B, d+1, d+1]
            z = z + params[f"layer{i}.p"] @ keys @ params[f"layer{i}.q"] @ z
        return ((z[:, -1, -1] - target) ** 2).mean()

    def batches(self, seed, step, device="cpu", dtype=torch.float32) -> Batch:
        return self._prompts(generator(self.name, "batch", seed, step), self.batch_size,
                             device, dtype)

    def validation_batch(self, device="cpu", dtype=torch.float32) -> Batch:
        return self._prompts(generator(self.name, "validation"), self.validation_size,
                             device, dtype)


# ---- constructors -------------------------------------------------------------------------------

_REPARAM = {
    "proxy": dict(hidden=(32, 32), batch_size=512, num_steps=200),
    "validation": dict(hidden=(128, 128, 128), batch_size=512, num_steps=600),
    "test": dict(hidden=(256, 256, 256), activation="gelu", batch_size=512, num_steps=800),
}
_ATTENTION = {
    "proxy": dict(dim=5, context=20, layers=3, num_steps=200),
    "validation": dict(dim=8, context=32, layers=3, num_steps=600),
    "test": dict(dim=10, context=40, layers=4, num_steps=1000),
}


def reparam_mlp(size: str = "proxy") -> ReparamMLPTask:
    check_size(size, _REPARAM, "reparam_mlp")
    return ReparamMLPTask(name=f"reparam_mlp_digits_{size}", size=size, **_REPARAM[size])


def linear_attention(size: str = "proxy") -> LinearAttentionTask:
    check_size(size, _ATTENTION, "linear_attention")
    return LinearAttentionTask(name=f"linear_attention_icl_{size}", size=size, **_ATTENTION[size])


FAMILY = TaskFamily("pressure_nets", {"reparam_mlp": reparam_mlp,
                                      "linear_attention": linear_attention})
