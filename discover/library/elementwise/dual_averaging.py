"""Dual averaging: the weights solved in closed form from accumulated (not averaged) gradients --
FTRL-Proximal and MADGRAD.

FTRL-proximal solves for the weights from the accumulated ``z`` and squared gradients ``n`` with
L1/L2 terms; MADGRAD is momentumised dual averaging from the initial weights with a cube-root
AdaGrad denominator.

References: the ``pytorch_optimizer`` classes named in each entry.
"""

from __future__ import annotations

from ..base import Entry, Reference, po_class

__all__ = ["ENTRIES"]

FTRL = '''
def ftrl(w, g, z, n, lr=0.001, lr_power=-0.5, beta=0.0, lambda_1=0.0, lambda_2=0.0):
    """FTRL-Proximal: the weights solved in closed form from the accumulated z and n.

    n' = n + g^2;  z = z + g - (n'^(-lr_power) - n^(-lr_power)) / lr * w
    w_new = (sign(z) lambda_1 - z) / ((sqrt(n') + beta) / lr + lambda_2), 0 where |z| <= lambda_1

    McMahan et al., "Ad Click Prediction: a View from the Trenches" (KDD 2013).
    """
    n2 = n + g * g
    z = z + g - (n2 ** (0 - lr_power) - n ** (0 - lr_power)) / lr * w
    den = (sqrt(n2) + beta) / lr + lambda_2
    w_new = where(abs(z) - lambda_1, (sign(z) * lambda_1 - z) / den, 0)
    return w - w_new, z, n2
'''

MADGRAD = '''
def madgrad(w, g, s, v, x0: w, t, lr=0.001, momentum=0.9, eps=1e-06, weight_decay=0.0,
            weight_decouple=0.0):
    """MADGRAD: momentumised dual averaging with a cube-root AdaGrad denominator.

    d = g + weight_decay * w (L2; with weight_decouple the decay is lr' weight_decay w)
    lr' = lr + eps;  lam = lr' sqrt(t);  v = v + lam d^2;  s = s + lam d
    z = x0 - s / (v^(1/3) + eps)   (x0: the initial weights; with momentum = 0 it is
    w + s_prev / (v_prev^(1/3) + eps), plain dual averaging)
    w_new = momentum w + (1 - momentum) z

    Defazio & Jelassi, "A Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic
    Optimization" (2021).
    """
    d = g + where(weight_decouple, 0, weight_decay) * w
    lr1 = lr + eps
    lam = lr1 * sqrt(t)
    start = where(momentum, x0, w + s / (v ** (1 / 3) + eps))
    v = v + lam * (d * d)
    s = s + lam * d
    z = start - s / (v ** (1 / 3) + eps)
    decay = where(weight_decouple, lr1 * weight_decay, 0) * w
    return w - interp(w, z, 1 - momentum) + decay, s, v, x0
'''


def _ftrl(params, h):
    return po_class("FTRL")(params, lr=h["lr"], lr_power=h["lr_power"], beta=h["beta"],
                            lambda_1=h["lambda_1"], lambda_2=h["lambda_2"])


def _madgrad(params, h):
    return po_class("MADGRAD")(params, lr=h["lr"], momentum=h["momentum"], eps=h["eps"],
                               weight_decay=h["weight_decay"],
                               weight_decouple=bool(h["weight_decouple"]))


ENTRIES = (
    Entry(
        # beta is an additive smoothing of sqrt(n), not a decay rate
        bounds=(("beta", (0.0, None)),),
        name="ftrl",
        source=FTRL,
        paper="Ad Click Prediction: a View from the Trenches",
        authors="McMahan et al.",
        year=2013,
        references=(Reference("pytorch_optimizer.FTRL", _ftrl, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.05, "beta": 1.0, "lambda_1": 0.01, "lambda_2": 0.1},
                  {"lr": 0.01, "beta": 0.5, "lambda_1": 0.001, "lambda_2": 0.01}),
        notes="The update replaces the weights: it is w - w_new. The denominator uses sqrt(n) "
              "whatever lr_power is, as pytorch_optimizer does (the paper's per-coordinate rate "
              "is the lr_power = -0.5 case).",
    ),
    Entry(
        name="madgrad",
        source=MADGRAD,
        paper="A Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic "
              "Optimization",
        authors="Defazio & Jelassi",
        year=2021,
        references=(
            Reference("pytorch_optimizer.MADGRAD", _madgrad, requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.01},
                  {"lr": 0.003, "momentum": 0.0, "weight_decay": 0.05, "weight_decouple": 1.0,
                   "eps": 1e-8}),
        notes="As the official code: lr + eps is the effective learning rate, lam = lr sqrt(t), "
              "and the weights interpolate towards the dual-averaging point (momentum on the "
              "iterates). The initial weights are the state x0.",
    ),
)
