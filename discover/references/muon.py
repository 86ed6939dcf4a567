"""Muon in the parameters' own precision: the reference for an exact (1e-10) check.

Muon (Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024) for a 2-D
weight ``W`` of shape ``(A, B)``:

    B_t = mu * B_{t-1} + (1 - mu) * G_t                    (momentum as an EMA, torch's lerp)
    U_t = (1 - mu) * G_t + mu * B_t if nesterov else B_t
    O_t = NS_k(U_t)                                        (quintic Newton-Schulz, k steps)
    W_t = W_{t-1} * (1 - lr * wd) - lr * sqrt(max(1, A / B)) * O_t

with ``NS_k``: ``X = U / max(||U||_F, eps)``, transposed so that rows <= columns, then ``k``
times ``X = a X + (b S + c S^2) X`` with ``S = X X^T`` and
``(a, b, c) = (3.4445, -4.7750, 2.0315)``. This is torch.optim.Muon's algorithm except that
Newton-Schulz runs in the dtype of the parameters (torch casts to bfloat16). Keller Jordan's
original adds ``eps`` to the norm instead of clamping it; torch's clamp is kept here.
"""

from __future__ import annotations

import math

import torch

from ._common import MomentumLoop, require_matrices

__all__ = ["MuonFloat64", "newton_schulz5"]

COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz5(u: torch.Tensor, steps: int, eps: float = 1e-7,
                   coefficients=COEFFICIENTS) -> torch.Tensor:
    """The quintic Newton-Schulz iteration on a matrix, in ``u``'s dtype."""
    a, b, c = coefficients
    tall = u.shape[0] > u.shape[1]
    x = u.T if tall else u  # (rows <= cols): the Gram matrix is the smaller one
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * (s @ s)) @ x
    return x.T if tall else x


class MuonFloat64(MomentumLoop):
    """Muon with Newton-Schulz in the parameters' dtype (float64 parameters: float64 maths).

    Same arguments and defaults as ``torch.optim.Muon`` (``adjust_lr_fn`` "original" only).

    >>> w = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    >>> opt = MuonFloat64([w], lr=0.02)
    >>> w.grad = torch.randn_like(w); opt.step()
    """

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True, eps: float = 1e-7,
                 ns_steps: int = 5):
        if lr < 0 or weight_decay < 0 or momentum < 0 or eps < 0:
            raise ValueError("lr, weight_decay, momentum and eps must be >= 0")
        if ns_steps < 0:
            raise ValueError(f"ns_steps must be >= 0, got {ns_steps}")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        eps=eps, ns_steps=ns_steps)
        super().__init__(params, defaults)
        require_matrices(self, "Muon takes 2-D parameters only")

    def apply(self, p, grad, buf, state, group):
        lr, mu = group["lr"], group["momentum"]
        u = grad * (1 - mu) + buf * mu if group["nesterov"] else buf
        o = newton_schulz5(u, group["ns_steps"], group["eps"])
        rows, cols = p.shape
        p.mul_(1 - lr * group["weight_decay"])
        p.add_(o, alpha=-lr * math.sqrt(max(1.0, rows / cols)))
