"""Orthogonalised-update rules written from their papers or official code (AuON, Hybrid-AuON,
AdaGO), and pytorch_optimizer's Muon family with Newton-Schulz in float64.

Plain per-tensor loops, independent of the program language; Newton-Schulz is
:func:`discover.references.muon.newton_schulz5` (or, for Hybrid-AuON, the official code's own
iteration, which divides by ``||X|| + 1e-7`` instead of clamping the norm).
"""

from __future__ import annotations

import contextlib
import importlib
import math

import torch

from ._common import MomentumLoop, closure_loss, require_matrices
from .muon import COEFFICIENTS, newton_schulz5

__all__ = ["AuON", "HybridAuON", "AdaGO", "ScaledGD", "SubsetNormAdam", "SubspaceMomentumSN",
           "with_float64_newton_schulz", "with_float64_svd"]


def _cosh_brake(u: torch.Tensor, gamma: float) -> torch.Tensor:
    """AuON's divisor sqrt(mean(cosh(gamma * u / (||u|| + 1e-7))^2)) + 1e-8."""
    scaled = u / (u.norm() + 1e-7) * gamma
    return torch.sqrt(torch.mean(torch.cosh(scaled) ** 2)) + 1e-8


class AuON(MomentumLoop):
    """AuON, "AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates" (2025),
    as its official code (ryyzn9/AuON, ``auon/optimizer.py``)::

        w = w * (1 - lr * weight_decay)
        m = momentum * m + (1 - momentum) * g;  u = (1 - momentum) * g + momentum * m
        w = w - lr * u / (sqrt(mean(cosh(gamma * u / (||u|| + 1e-7))^2)) + 1e-8)
    """

    def __init__(self, params, lr: float = 0.24, momentum: float = 0.95,
                 weight_decay: float = 0.0, gamma: float = 1.5, *, _extra=None):
        if lr < 0 or weight_decay < 0 or not 0.0 <= momentum <= 1.0:
            raise ValueError("lr and weight_decay must be >= 0 and momentum in [0, 1]")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      gamma=gamma, **(_extra or {})))

    def _direction(self, u: torch.Tensor, group) -> torch.Tensor:
        return u

    def apply(self, p, grad, m, state, group):
        lr, mu = group["lr"], group["momentum"]
        p.mul_(1 - lr * group["weight_decay"])
        u = self._direction(grad * (1 - mu) + m * mu, group)
        p.sub_(lr * u / _cosh_brake(u, group["gamma"]))


class HybridAuON(AuON):
    """Hybrid-AuON (same paper; official ``HybridAuON``): for tensors with 2 or more dims the
    Nesterov momentum is first replaced by ``ns_steps`` quintic Newton-Schulz steps on each matrix
    of the last two dims, started from ``X / (||X||_F + 1e-7)`` (transposed so rows <= cols);
    then AuON's cosh brake. Vectors get the brake only."""

    def __init__(self, params, lr: float = 0.24, momentum: float = 0.95,
                 weight_decay: float = 0.0, gamma: float = 1.5, ns_steps: int = 5):
        if ns_steps < 0:
            raise ValueError(f"ns_steps must be >= 0, got {ns_steps}")
        super().__init__(params, lr, momentum, weight_decay, gamma,
                         _extra={"ns_steps": int(ns_steps)})

    def _direction(self, u: torch.Tensor, group) -> torch.Tensor:
        if u.ndim < 2:
            return u
        a, b, c = COEFFICIENTS
        tall = u.size(-2) > u.size(-1)
        x = u.mT if tall else u
        x = x / (x.norm(dim=(-2, -1), keepdim=True) + 1e-7)
        for _ in range(group["ns_steps"]):
            s = x @ x.mT
            x = a * x + (b * s + c * (s @ s)) @ x
        return x.mT if tall else x


class AdaGO(MomentumLoop):
    """AdaGO, Zhang, Liu & Schaeffer, "AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal
    Updates" (2025), for matrices::

        m = momentum * m + (1 - momentum) * g
        v^2 = v^2 + min(||g||^2, gamma^2)                 (v starts at v0)
        alpha = max(eps, lr * min(||g||, gamma) / v)
        w = w - alpha * NS_k(m)
    """

    def __init__(self, params, lr: float = 0.05, momentum: float = 0.95, gamma: float = 10.0,
                 eps: float = 5e-4, v0: float = 1e-6, ns_steps: int = 5):
        if lr < 0 or gamma <= 0 or eps <= 0 or v0 <= 0 or not 0.0 <= momentum < 1.0:
            raise ValueError("lr >= 0, gamma, eps, v0 > 0 and momentum in [0, 1) required")
        super().__init__(params, dict(lr=lr, momentum=momentum, gamma=gamma, eps=eps, v0=v0,
                                      ns_steps=int(ns_steps)))
        require_matrices(self, "AdaGO takes matrices")

    def extra_state(self, p, group):
        return {"v": torch.tensor(group["v0"], dtype=p.dtype, device=p.device)}

    def apply(self, p, grad, m, state, group):
        gamma = group["gamma"]
        norm = grad.norm()
        state["v"] = torch.sqrt(state["v"] ** 2 + torch.clamp(norm ** 2, max=gamma ** 2))
        alpha = torch.clamp(group["lr"] * torch.clamp(norm, max=gamma) / state["v"],
                            min=group["eps"])
        p.sub_(alpha * newton_schulz5(m, group["ns_steps"]))


# ---- pytorch_optimizer's Muon family with float64 Newton-Schulz --------------------------------

#: the pytorch_optimizer modules that call ``zero_power_via_newton_schulz_5`` by name
_NS_MODULES = ("pytorch_optimizer.optimizer.muon.base", "pytorch_optimizer.optimizer.muon.adago",
               "pytorch_optimizer.optimizer.muon.adamuon",
               "pytorch_optimizer.optimizer.muon.normuon", "pytorch_optimizer.optimizer.scion",
               "pytorch_optimizer.optimizer.mars")


@contextlib.contextmanager
def _newton_schulz_in_input_dtype():
    """pytorch_optimizer runs Newton-Schulz in bfloat16 (``dtype=torch.bfloat16`` by default);
    inside this block its modules call it with the input's own dtype instead."""
    modules = [importlib.import_module(name) for name in _NS_MODULES]
    originals = [module.zero_power_via_newton_schulz_5 for module in modules]
    base = originals[0]

    def same_dtype(g, *args, **kwargs):
        kwargs["dtype"] = g.dtype
        return base(g, *args, **kwargs)

    for module in modules:
        module.zero_power_via_newton_schulz_5 = same_dtype
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module.zero_power_via_newton_schulz_5 = original


def with_float64_newton_schulz(cls: type) -> type:
    """A subclass of a pytorch_optimizer Muon-family class whose ``step`` runs Newton-Schulz in
    the parameters' dtype (float64 parameters: float64 maths) and is otherwise unchanged."""

    class Float64NewtonSchulz(cls):
        def step(self, *args, **kwargs):
            with _newton_schulz_in_input_dtype():
                return super().step(*args, **kwargs)

    Float64NewtonSchulz.__name__ = f"{cls.__name__}Float64"
    return Float64NewtonSchulz


# ---- preconditioned and subset-norm rules ------------------------------------------------------


class ScaledGD(torch.optim.Optimizer):
    """ScaledGD(lambda), Xu, Shen, Ma & Chi, "The Power of Preconditioning in Overparameterized
    Low-Rank Matrix Sensing" (2023), for a factor matrix ``X``::

        X = X - lr * grad f(X) (X^T X + damping I)^{-1}
    """

    def __init__(self, params, lr: float = 0.01, damping: float = 0.1):
        if lr < 0 or damping < 0:
            raise ValueError("lr and damping must be >= 0")
        super().__init__(params, dict(lr=lr, damping=damping))
        require_matrices(self, "ScaledGD takes factor matrices")

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                gram = p.T @ p + group["damping"] * torch.eye(p.shape[1], dtype=p.dtype,
                                                               device=p.device)
                # grad @ gram^{-1}, as the solution of gram Z^T = grad^T (gram is symmetric)
                p.sub_(group["lr"] * torch.linalg.solve(gram, p.grad.T).T)
        return loss


class SubsetNormAdam(torch.optim.Optimizer):
    """Subset-Norm second moments with the paper's subset heuristic, as the official code
    (timmytonga/sn-sm, ``adamw_sn.py`` and ``subset_norm.py``) of Nguyen & Nguyen, "Lean and Mean
    Adaptive Optimization via Subset-Norm and Subspace-Momentum with Convergence Guarantees"
    (2025). For a matrix the subsets run along the shorter side: with ``R >= C`` rows each row
    shares one accumulator ``s_i = sum_j g_ij^2``, else each column does; vectors are Adam's::

        m = beta1 m + (1 - beta1) g                        (beta1 = 0: m = g)
        v = beta2 v + (1 - beta2) s   (beta2 < 1),  v = v + s  (beta2 = 1: AdaGrad)
        w = w - lr * c_t * m / (sqrt(v) + eps),  c_t = sqrt(1 - beta2^t) / (1 - beta1^t) if
            correct_bias else 1
        w = w - lr * weight_decay * w                      (after the step, as the code does)
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0, correct_bias: bool = True):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError("lr, eps and weight_decay must be >= 0")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] <= 1.0):
            raise ValueError(f"betas must lie in [0, 1) x [0, 1], got {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, correct_bias=correct_bias))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if p.ndim == 2:
                    reduce_dim = 1 if p.shape[0] >= p.shape[1] else 0
                    s = (g ** 2).sum(dim=reduce_dim, keepdim=True)
                else:
                    s = g ** 2
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(s)
                state["step"] += 1
                if beta1 > 0:
                    state["exp_avg"].mul_(beta1).add_(g, alpha=1 - beta1)
                    numerator = state["exp_avg"]
                else:
                    numerator = g
                v = state["exp_avg_sq"]
                if beta2 < 1:
                    v.mul_(beta2).add_(s, alpha=1 - beta2)
                else:
                    v.add_(s)
                step_size = group["lr"]
                if group["correct_bias"]:
                    t = state["step"]
                    step_size *= math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
                p.addcdiv_(numerator, v.sqrt() + group["eps"], value=-step_size)
                p.mul_(1 - group["lr"] * group["weight_decay"])
        return loss


# ---- pytorch_optimizer's GaLore projector with a float64 SVD -------------------------------------


def with_float64_svd(cls: type) -> type:
    """A subclass of a pytorch_optimizer class built on ``GaLoreProjector`` whose projector takes
    its SVD in the gradient's dtype (the package casts float64 gradients to float32 for the SVD
    and back) and is otherwise unchanged."""
    module = importlib.import_module(cls.__module__)
    projector = module.GaLoreProjector

    class Float64SVDProjector(projector):
        def get_orthogonal_matrix(self, weights, projection_type, from_random_matrix=False):
            if from_random_matrix or weights.dtype == torch.float32:
                return super().get_orthogonal_matrix(weights, projection_type, from_random_matrix)
            u, _, vh = torch.linalg.svd(weights, full_matrices=False)
            left, right = u[:, :self.rank].clone(), vh[:self.rank, :].clone()
            if projection_type == "right":
                return right
            if projection_type == "left":
                return left
            return left, right

    class Float64SVD(cls):
        def step(self, *args, **kwargs):
            module.GaLoreProjector = Float64SVDProjector
            try:
                return super().step(*args, **kwargs)
            finally:
                module.GaLoreProjector = projector

    Float64SVD.__name__ = f"{cls.__name__}Float64SVD"
    return Float64SVD


class SubspaceMomentumSN(torch.optim.Optimizer):
    """SNSM, Subset-Norm with Subspace-Momentum, as the official code (timmytonga/sn-sm,
    ``GenericOptim`` with ``momentum_type='sm'``, ``second_moment_type='sn'``, SVD projection,
    subset heuristic) of Nguyen & Nguyen (2025). For a matrix, with ``P`` its top-``rank``
    singular vectors on the shorter side (refreshed at the first step and every
    ``update_proj_gap`` steps) and ``low`` the gradient's coordinates in ``P``::

        m = beta1 m + (1 - beta1) low          (the stored m is reset to 0 after a refresh step)
        numerator = back(m) + (g - back(low))  (momentum in the subspace, SGD on the rest)
        v = beta2 v + (1 - beta2) s            (s: the subset-norm sums, as SubsetNormAdam)
        w = w - lr sqrt(1 - beta2^t) / (1 - beta1^t) * numerator / (sqrt(v) + eps)
        w = w - lr * weight_decay * w

    Vectors get Adam. The code takes the SVD in float32; here it is in the gradient's dtype.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0, rank: int = 128, update_proj_gap: int = 200):
        if lr < 0 or eps < 0 or weight_decay < 0 or rank < 1 or update_proj_gap < 1:
            raise ValueError("lr, eps, weight_decay >= 0 and rank, update_proj_gap >= 1 required")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, rank=int(rank),
                                      update_proj_gap=int(update_proj_gap)))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g, state = p.grad, self.state[p]
                state["step"] = t = state.get("step", 0) + 1
                if p.ndim == 2:
                    tall = p.shape[0] >= p.shape[1]
                    if "basis" not in state or t % group["update_proj_gap"] == 0:
                        u, _, vh = torch.linalg.svd(g, full_matrices=False)
                        state["basis"] = vh[:group["rank"]] if tall else u[:, :group["rank"]]
                    basis = state["basis"]

                    def back(y, basis=basis, tall=tall):
                        return y @ basis if tall else basis @ y

                    low = g @ basis.T if tall else basis.T @ g
                    m = state.setdefault("exp_avg", torch.zeros_like(low))
                    if t > 1 and t % group["update_proj_gap"] == 0:
                        state["exp_avg"] = torch.zeros_like(low)  # this step still uses the old m
                    m.mul_(beta1).add_(low, alpha=1 - beta1)
                    numerator = back(m) + (g - back(low))
                    s = (g ** 2).sum(dim=1 if tall else 0, keepdim=True)
                else:
                    m = state.setdefault("exp_avg", torch.zeros_like(p))
                    m.mul_(beta1).add_(g, alpha=1 - beta1)
                    numerator, s = m, g ** 2
                v = state.setdefault("exp_avg_sq", torch.zeros_like(s))
                v.mul_(beta2).add_(s, alpha=1 - beta2)
                step_size = group["lr"] * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
                p.addcdiv_(numerator, v.sqrt() + group["eps"], value=-step_size)
                p.mul_(1 - group["lr"] * group["weight_decay"])
        return loss
