"""Pressure logistic regressions: features whose scales or frequencies spread over decades.

Both are full-batch L2-regularised logistic regressions on generated data (labels drawn from a
random teacher, so the optimum is finite and away from 0) whose objective
``F(w) = c (mean BCE(x w, y) + l2/2 |w|^2)`` has a per-coordinate curvature spread that one
learning rate cannot serve but a per-coordinate step size can:

- **sparse Zipf features** (T3 in ``reference/discovery.md`` §2.2; the setting AdaGrad was made
  for, Duchi, Hazan & Singer 2011): binary features, feature ``j`` (1-based) active with
  probability ``min(1, 2 / j)``;
- **badly scaled features** (T4): Gaussian features, feature ``j`` multiplied by a scale spread
  log-evenly over ``decades`` (4) decades; the teacher acts on the unscaled features, so every
  feature matters (the real-data analogue: a data set without standardisation).

The metric is the excess objective ``F(w) - F*``, with ``F*`` found once per task by L-BFGS in
float64, so it shrinks by decades like a quadratic's. ``c`` (``loss_scale``) puts tuned SGD's
best learning rate inside the protocol's grid.

Example::

    >>> task = sparse_logistic("proxy")
    >>> task.validate(task.init(seed=0)) > 0
    True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from .base import Batch, Task, TaskFamily, check_size, derive_seed, generator

__all__ = ["LogisticPressureTask", "SparseLogisticTask", "ScaledLogisticTask",
           "sparse_logistic", "scaled_logistic", "FAMILY"]


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warning, unlike 1 / (1 + exp(-z))


def _objective(w, x, y, l2, scale):
    """``F(w)`` and its gradient in float64 numpy (for L-BFGS)."""
    z = x @ w
    value = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * w @ w
    grad = x.T @ (_sigmoid(z) - y) / len(y) + l2 * w
    return scale * value, scale * grad


def _newton(w, x, y, l2, scale, steps=30):
    """Polish ``w`` by damped Newton steps (L-BFGS stalls along curvatures of 1e-7)."""
    for _ in range(steps):
        value, grad = _objective(w, x, y, l2, scale)
        p = _sigmoid(x @ w)
        hess = scale * ((x.T * (p * (1 - p))) @ x / len(y) + l2 * np.eye(len(w)))
        step, t = np.linalg.solve(hess, grad), 1.0
        while t > 1e-8 and _objective(w - t * step, x, y, l2, scale)[0] > value:
            t *= 0.5
        w = w - t * step
    return w


@functools.lru_cache(maxsize=16)
def _problem(task: "LogisticPressureTask"):
    """(x, y, F*) of ``task`` (its budget ignored), in float64 numpy: L-BFGS, then Newton."""
    import scipy.optimize  # noqa: PLC0415 - only these tasks need it (with scikit-learn)

    rng = np.random.default_rng(derive_seed(task.name, "data"))
    x, teacher = task.draw(rng)
    y = (rng.random(len(x)) < 1.0 / (1.0 + np.exp(-x @ teacher))).astype(np.float64)
    args = (x, y, task.l2, task.loss_scale)
    opt = scipy.optimize.minimize(_objective, np.zeros(x.shape[1]), args=args, jac=True,
                                  method="L-BFGS-B",
                                  options={"maxiter": 2000, "gtol": 1e-12})
    w = _newton(opt.x, *args)
    return x, y, float(_objective(w, *args)[0])


@functools.lru_cache(maxsize=32)
def _tensors(task: "LogisticPressureTask", device, dtype):
    x, y, fstar = _problem(replace(task, num_steps=0))
    return torch.from_numpy(x).to(device, dtype), torch.from_numpy(y).to(device, dtype), fstar


@dataclass(frozen=True)
class LogisticPressureTask(Task):
    """Shared parts: ``w`` of ``dim`` weights from ``N(0, init_scale^2 I)``, full batch, the
    excess objective as the metric."""

    family = "pressure_logistic"
    init_scale: float = 0.1
    n: int = 1024
    dim: int = 256
    l2: float = 1e-3
    loss_scale: float = 1.0

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Features ``[n, dim]`` and the teacher's weights ``[dim]``."""
        raise NotImplementedError

    def init(self, seed, device="cpu", dtype=torch.float32):
        w = self.init_scale * torch.randn(self.dim, generator=generator(self.name, "init", seed))
        return {"w": w.to(device, dtype)}

    def loss(self, params, batch):
        w = params["w"]
        x, y, _ = _tensors(self, w.device, w.dtype)
        bce = F.binary_cross_entropy_with_logits(x @ w, y)
        return self.loss_scale * (bce + 0.5 * self.l2 * (w * w).sum())

    def metric(self, params, batch):
        w = params["w"]
        return self.loss(params, batch) - _tensors(self, w.device, w.dtype)[2]

    def optimal_value(self) -> float:
        """``F*`` (float64)."""
        return _problem(replace(self, num_steps=0))[2]

    def batches(self, seed, step, device="cpu", dtype=torch.float32) -> Batch:
        return ()

    def validation_batch(self, device="cpu", dtype=torch.float32) -> Batch:
        return ()


@dataclass(frozen=True)
class SparseLogisticTask(LogisticPressureTask):
    """T3: features ``value`` or 0, feature j active with probability ``min(1, 2 / j)``; the
    teacher's weights act on the 0/1 indicators."""

    teacher_scale: float = 0.5
    value: float = 1.0

    def draw(self, rng):
        p = np.minimum(1.0, 2.0 / np.arange(1, self.dim + 1))
        x = (rng.random((self.n, self.dim)) < p).astype(np.float64)
        return self.value * x, self.teacher_scale * rng.standard_normal(self.dim) / self.value


@dataclass(frozen=True)
class ScaledLogisticTask(LogisticPressureTask):
    """T4: Gaussian features, feature scales ``10^lowest .. 10^(lowest + decades)`` (shuffled)."""

    decades: float = 4.0
    lowest: float = -2.0
    teacher_scale: float = 0.4

    def draw(self, rng):
        z = rng.standard_normal((self.n, self.dim))
        scales = 10.0 ** rng.permutation(np.linspace(self.lowest, self.lowest + self.decades,
                                                     self.dim))
        teacher = self.teacher_scale * rng.standard_normal(self.dim)  # acts on z
        return z * scales, teacher / scales


# ---- constructors -------------------------------------------------------------------------------

_SPARSE = {
    "proxy": dict(n=1024, dim=256, num_steps=200),
    "validation": dict(n=4096, dim=1024, num_steps=600),
    "test": dict(n=4096, dim=2048, num_steps=1000),
}
_SCALED = {
    "proxy": dict(n=512, dim=32, num_steps=200),
    "validation": dict(n=2048, dim=64, num_steps=600),
    "test": dict(n=4096, dim=128, num_steps=1000),
}


def sparse_logistic(size: str = "proxy") -> SparseLogisticTask:
    check_size(size, _SPARSE, "sparse_logistic")
    return SparseLogisticTask(name=f"sparse_logistic_{size}", size=size, value=10.0,
                              teacher_scale=2.0, l2=3e-3, loss_scale=1.0, init_scale=0.01,
                              **_SPARSE[size])


def scaled_logistic(size: str = "proxy") -> ScaledLogisticTask:
    check_size(size, _SCALED, "scaled_logistic")
    return ScaledLogisticTask(name=f"scaled_logistic_{size}", size=size, l2=1e-4,
                              loss_scale=1e-2, **_SCALED[size])


FAMILY = TaskFamily("pressure_logistic", {"sparse_logistic": sparse_logistic,
                                          "scaled_logistic": scaled_logistic})
