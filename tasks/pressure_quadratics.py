"""Pressure quadratics: curvature spread over decades along the axes (where a per-coordinate
step size helps) and, as controls, curvature spread inside rotated blocks (where it cannot).

- **Zipf quadratic** (T1 in ``reference/discovery.md`` §2.2): ``f = 1/2 sum_i h_i (x_i - x*_i)^2``
  with ``G`` groups, group ``k`` of ``2^k`` coordinates at curvature ``h = c 2^-k``; every group
  carries the same initial loss and the condition number is ``2^(G-1)`` (4096 at ``G = 13``).
- **Block quadratic**: ``f = 1/2 sum_b (x_b - x*_b)^T A_b (x_b - x*_b)`` with ``A_b = Q_b
  diag(lambda_b) Q_b^T``, ``Q_b`` a random rotation of block ``b``. Block-heterogeneous (T2,
  Zhang et al., NeurIPS 2024, "Why Transformers Need Adam: A Hessian Perspective"): block ``b``
  scaled by ``10^(-3b/7)``, eigenvalues log-spaced over one decade inside a block. Controls:
  homogeneous blocks (T2c, every block the same 4-decade spread) and one rotated block (the
  rotated quadratic), where a diagonal preconditioner cannot undo the conditioning (Xie et al.,
  2024) and momentum should beat Adam.

The optimum ``x*`` is drawn once per task (away from 0, so ``lr * (g + c w)`` cannot cheat) and
the start ``x0`` per seed, both ``N(0, radius^2 I)``. Full-batch and deterministic. ``scale``
(the largest curvature) puts tuned SGD's best learning rate inside the protocol's grid,
``radius`` (the distance to travel) Adam's and sign methods'. The metric is
``(f(x) - f*) / radius^2 = f(x) / radius^2``: the loss in units of the starting distance, so the
radius moves only the learning rates, and the decades Adam gains (about 10 in 200 steps) stay
above the ``1e-8`` floor of :func:`tasks.protocol.normalised_score`.

Example::

    >>> task = zipf_quadratic("proxy")
    >>> task.dim, task.validate(task.init(seed=0)) > 0
    (8191, True)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from .base import Batch, Task, TaskFamily, check_size, derive_seed, generator

__all__ = ["ZipfQuadraticTask", "BlockQuadraticTask", "zipf_quadratic", "block_quadratic",
           "homogeneous_blocks", "rotated_quadratic", "FAMILY"]


@functools.lru_cache(maxsize=32)
def _optimum(name: str, dim: int, radius: float, device, dtype) -> torch.Tensor:
    """``x* ~ N(0, radius^2 I)`` from the task name (numpy: the first call may come inside vmap)."""
    rng = np.random.default_rng(derive_seed(name, "optimum"))
    return torch.from_numpy(radius * rng.standard_normal(dim)).to(device, dtype)


@functools.lru_cache(maxsize=32)
def _zipf_curvature(groups: int, scale: float, device, dtype) -> torch.Tensor:
    """``h``: group k (k = 0 .. groups - 1) of 2^k coordinates at ``scale * 2^-k``."""
    h = np.concatenate([np.full(2 ** k, scale * 2.0 ** -k) for k in range(groups)])
    return torch.from_numpy(h).to(device, dtype)


@functools.lru_cache(maxsize=32)
def _block_matrices(name: str, blocks: int, block_dim: int, block_decades: float,
                    within_decades: float, scale: float, device, dtype) -> torch.Tensor:
    """``A`` as ``[blocks, block_dim, block_dim]``: rotated blocks, scales and spectra as above."""
    rng = np.random.default_rng(derive_seed(name, "rotations"))
    out = np.empty((blocks, block_dim, block_dim))
    for b in range(blocks):
        q, _ = np.linalg.qr(rng.standard_normal((block_dim, block_dim)))
        block_scale = 10.0 ** (-block_decades * b / max(blocks - 1, 1))
        eig = scale * block_scale * np.logspace(0.0, -within_decades, block_dim)
        out[b] = (q * eig) @ q.T
    return torch.from_numpy(out).to(device, dtype)


@dataclass(frozen=True)
class _Quadratic(Task):
    """Shared parts: ``x`` of ``dim`` coordinates, ``x0 ~ N(0, radius^2 I)`` per seed, no
    batches."""

    family = "pressure_quadratics"
    radius: float = 0.1

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def init(self, seed, device="cpu", dtype=torch.float32):
        x = self.radius * torch.randn(self.dim, generator=generator(self.name, "init", seed))
        return {"x": x.to(device, dtype)}

    def optimum(self, device="cpu", dtype=torch.float32) -> torch.Tensor:
        """``x*`` (for tests and reports; a program never sees it)."""
        return _optimum(self.name, self.dim, self.radius, device, dtype)

    def metric(self, params, batch):
        return self.loss(params, batch) / self.radius ** 2

    def batches(self, seed, step, device="cpu", dtype=torch.float32) -> Batch:
        return ()

    def validation_batch(self, device="cpu", dtype=torch.float32) -> Batch:
        return ()


@dataclass(frozen=True)
class ZipfQuadraticTask(_Quadratic):
    """T1: axis-aligned curvature ``scale * 2^-k`` on ``2^k`` coordinates, k < ``groups``."""

    groups: int = 13
    scale: float = 10.0

    @property
    def dim(self) -> int:
        return 2 ** self.groups - 1

    def loss(self, params, batch):
        x = params["x"]
        h = _zipf_curvature(self.groups, self.scale, x.device, x.dtype)
        d = x - self.optimum(x.device, x.dtype)
        return 0.5 * (h * d * d).sum()

    def closed_form(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient ``h (x - x*)`` and loss of N stacked points ``x`` (``[N, dim]``), no autograd."""
        h = _zipf_curvature(self.groups, self.scale, x.device, x.dtype)
        d = x - self.optimum(x.device, x.dtype)
        hd = h * d
        return hd, 0.5 * (hd * d).sum(-1)


@dataclass(frozen=True)
class BlockQuadraticTask(_Quadratic):
    """``blocks`` rotated blocks of ``block_dim``: block b scaled by
    ``10^(-block_decades b / (blocks - 1))``, eigenvalues log-spaced over ``within_decades``."""

    blocks: int = 8
    block_dim: int = 16
    block_decades: float = 3.0
    within_decades: float = 1.0
    scale: float = 10.0

    @property
    def dim(self) -> int:
        return self.blocks * self.block_dim

    def loss(self, params, batch):
        x = params["x"]
        a = _block_matrices(self.name, self.blocks, self.block_dim, self.block_decades,
                            self.within_decades, self.scale, x.device, x.dtype)
        d = (x - self.optimum(x.device, x.dtype)).view(self.blocks, -1)
        return 0.5 * (d * (a @ d.unsqueeze(-1)).squeeze(-1)).sum()  # [blocks, block_dim]

    def closed_form(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient ``A (x - x*)`` and loss of N stacked points ``x`` (``[N, dim]``), no autograd."""
        a = _block_matrices(self.name, self.blocks, self.block_dim, self.block_decades,
                            self.within_decades, self.scale, x.device, x.dtype)
        d = (x - self.optimum(x.device, x.dtype)).view(x.shape[0], self.blocks, -1)
        ad = (a @ d.unsqueeze(-1)).squeeze(-1)  # [N, blocks, block_dim]
        return ad.reshape(x.shape), 0.5 * (d * ad).sum((-2, -1))


# ---- constructors -------------------------------------------------------------------------------

_ZIPF = {
    "proxy": dict(groups=13, num_steps=200),
    "validation": dict(groups=14, num_steps=600),
    "test": dict(groups=15, num_steps=1000),
}
# T2: 3 decades across blocks + 1 inside; T2c: the same 4 decades inside every block
_BLOCKS = {
    "proxy": dict(blocks=8, block_dim=16, num_steps=200),
    "validation": dict(blocks=8, block_dim=32, num_steps=600),
    "test": dict(blocks=16, block_dim=16, num_steps=1000),
}
_ROTATED = {
    "proxy": dict(blocks=1, block_dim=128, num_steps=200),
    "validation": dict(blocks=1, block_dim=256, num_steps=600),
    "test": dict(blocks=1, block_dim=512, num_steps=1000),
}


def zipf_quadratic(size: str = "proxy") -> ZipfQuadraticTask:
    check_size(size, _ZIPF, "zipf_quadratic")
    return ZipfQuadraticTask(name=f"zipf_quadratic_{size}", size=size, **_ZIPF[size])


def block_quadratic(size: str = "proxy") -> BlockQuadraticTask:
    check_size(size, _BLOCKS, "block_quadratic")
    return BlockQuadraticTask(name=f"block_quadratic_{size}", size=size, block_decades=3.0,
                              within_decades=1.0, **_BLOCKS[size])


def homogeneous_blocks(size: str = "proxy") -> BlockQuadraticTask:
    check_size(size, _BLOCKS, "homogeneous_blocks")
    return BlockQuadraticTask(name=f"homogeneous_blocks_{size}", size=size, block_decades=0.0,
                              within_decades=4.0, **_BLOCKS[size])


def rotated_quadratic(size: str = "proxy") -> BlockQuadraticTask:
    check_size(size, _ROTATED, "rotated_quadratic")
    return BlockQuadraticTask(name=f"rotated_quadratic_{size}", size=size, block_decades=0.0,
                              within_decades=3.0, **_ROTATED[size])


FAMILY = TaskFamily("pressure_quadratics", {
    "zipf_quadratic": zipf_quadratic, "block_quadratic": block_quadratic,
    "homogeneous_blocks": homogeneous_blocks, "rotated_quadratic": rotated_quadratic})
