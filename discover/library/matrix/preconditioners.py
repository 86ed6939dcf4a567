"""Matrix preconditioners: Shampoo's Kronecker-factored inverse roots and ScaledGD's
``(X^T X + lambda I)^{-1}`` for low-rank factors.

Both need the matrix ops (``matmul``, ``transpose``, ``eye_like``, ``spd_power``); they are
verified on matrices only. A statistic such as ``L = sum G G^T`` is stored at its own shape
(``R x R``), which the program gives it.
"""

from __future__ import annotations

from ...references.matrix import ScaledGD
from ..base import Entry, Reference

__all__ = ["ENTRIES"]

SHAMPOO = '''
def shampoo(w, g, buf, lstat, rstat, lroot, rroot, t, lr=0.001, momentum=0.0, weight_decay=0.0,
            weight_decouple=0.0, matrix_eps=1e-06, preconditioning_compute_steps=1):
    """Shampoo for matrices: Kronecker-factored AdaGrad with inverse fourth roots.

    g = interp(g, buf, momentum) after the first step (buf: the last preconditioned gradient)
    g = g + weight_decay * w unless weight_decouple
    L = L + g g^T;  R = R + g^T g
    every k steps (t % k == 0): Lr = (L + eps I)^(-1/4);  Rr = (R + eps I)^(-1/4)
    u = Lr g Rr;  update = lr * u (+ lr * weight_decay * w if weight_decouple)

    Gupta, Koren & Singer, "Shampoo: Preconditioned Stochastic Tensor Optimization" (2018).
    """
    g = where(t - 1, interp(g, buf, momentum), g)
    g = where(weight_decouple, g, g + weight_decay * w)
    lstat = lstat + matmul(g, transpose(g))
    rstat = rstat + matmul(transpose(g), g)
    refresh = 0.5 - fmod(t, preconditioning_compute_steps)
    lroot = where(refresh, spd_power(lstat + matrix_eps * eye_like(lstat), -0.25), lroot)
    rroot = where(refresh, spd_power(rstat + matrix_eps * eye_like(rstat), -0.25), rroot)
    u = matmul(matmul(lroot, g), rroot)
    decay = where(weight_decouple, lr * weight_decay * w, 0)
    return lr * u + decay, u, lstat, rstat, lroot, rroot
'''

SCALED_GD = '''
def scaled_gd(w, g, lr=0.01, damping=0.1):
    """ScaledGD(lambda): gradient descent on a low-rank factor X, right-preconditioned by the
    damped Gram matrix of the factor.

    update = lr * g (X^T X + damping I)^(-1)

    Xu, Shen, Ma & Chi, "The Power of Preconditioning in Overparameterized Low-Rank Matrix
    Sensing" (2023).
    """
    gram = matmul(transpose(w), w)
    return lr * matmul(g, spd_power(gram + damping * eye_like(gram), -1))
'''


def _shampoo(params, h):
    from pytorch_optimizer import Shampoo  # noqa: PLC0415 - optional dependency

    return Shampoo(params, lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"],
                   weight_decouple=bool(h["weight_decouple"]), matrix_eps=h["matrix_eps"],
                   preconditioning_compute_steps=int(h["preconditioning_compute_steps"]))


def _scaled_gd(params, h):
    return ScaledGD(params, lr=h["lr"], damping=h["damping"])


ENTRIES = (
    Entry(
        name="shampoo",
        source=SHAMPOO,
        paper="Shampoo: Preconditioned Stochastic Tensor Optimization",
        authors="Gupta, Koren & Singer",
        year=2018,
        references=(
            Reference("pytorch_optimizer.Shampoo", _shampoo, requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.01},
            {"lr": 0.003, "weight_decay": 0.1, "weight_decouple": 1.0, "matrix_eps": 0.001,
             "preconditioning_compute_steps": 3},
        ),
        min_ndim=2,
        max_ndim=2,
        notes="The paper's Algorithm 1 for matrices (L_0 = R_0 = eps I, inverse fourth roots) is "
              "pytorch_optimizer.Shampoo at its defaults. Its momentum mixes the raw gradient "
              "with the previous preconditioned update (not an EMA of gradients), as here. The "
              "package preconditions every mode of higher-order tensors (exponent -1/(2 order)) "
              "and vectors with a full n x n matrix; the program handles matrices only (a "
              "vector's matmul is diagonal), so only matrices are verified. Roots by "
              "eigendecomposition (the package uses an SVD; equal for these symmetric positive "
              "definite matrices).",
    ),
    Entry(
        name="scaled_gd",
        source=SCALED_GD,
        paper="The Power of Preconditioning in Overparameterized Low-Rank Matrix Sensing",
        authors="Xu, Shen, Ma & Chi",
        year=2023,
        references=(Reference("discover.references.matrix.ScaledGD", _scaled_gd),),
        settings=(
            {},
            {"lr": 0.1, "damping": 1.0},
            {"lr": 0.001, "damping": 0.01},
        ),
        min_ndim=2,
        max_ndim=2,
        notes="The update of the factor X in the paper's X X^T parametrisation; the paper "
              "analyses matrix sensing, here it is applied to any weight matrix as the factor. "
              "lr and damping are illustrative defaults (the paper sets them per problem). "
              "Matrices only. For a wide matrix X^T X is rank-deficient, so a small damping "
              "amplifies the gradient's null-space part by up to 1/damping: with lr=0.01, "
              "damping=0.01 both program and reference diverge on verify's 5 x 11 problem.",
    ),
)
