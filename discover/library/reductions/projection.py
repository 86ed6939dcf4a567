"""Rules built on inner products of the step with the weights or the gradient: AdamP and SGDP
(remove the radial part of the step for scale-invariant weights), SWATS (switch from Adam to
SGD once the projected SGD step size settles) and Adaptive Braking (scale the gradient by its
alignment with the velocity).

AdamP/SGDP test scale invariance per output unit (``unit_sum``: rows of a matrix, filters of a
conv kernel) and then per tensor; SWATS uses inner products over the whole parameter vector
(``global_dot``) and keeps its phase and SGD step size as group-level scalars.
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

# the projection shared by AdamP and SGDP: u is the step, ratio the weight-decay multiplier
_PROJECT = '''
    wn_c = sqrt(unit_sum(w * w))
    cos_c = unit_sum(g / max(sqrt(unit_sum(g * g)), eps) * (w / max(wn_c, eps)))
    k = numel(w) / numel(unit_sum(w))
    on_c = delta / sqrt(k) - absmax(cos_c)
    cos_l = sum(g / max(norm(g), eps) * (w / max(norm(w), eps)))
    on_l = delta / sqrt(numel(w)) - absmax(cos_l)
    pn_c = w / (wn_c + eps)
    pn_l = w / (norm(w) + eps)
    u_c = u - pn_c * unit_sum(pn_c * u)
    u_l = u - pn_l * sum(pn_l * u)
    matrix = ndim(w) - 1
    u = where(matrix, where(on_c, u_c, where(on_l, u_l, u)), u)
    ratio = where(matrix, where(on_c, wd_ratio, where(on_l, wd_ratio, 1)), 1)
'''

ADAMP = '''
def adamp(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, weight_decay=0.0, delta=0.1,
          wd_ratio=0.1, nesterov=0.0, eps=1e-08):
    """AdamP: Adam whose step loses its radial component on scale-invariant weights.

    m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
    u = (interp(g, m, beta1) if nesterov else m) * sqrt(1 - beta2^t) / (sqrt(v) + eps)
    for tensors with 2 or more dims, per output unit (channel) view, then whole-tensor view:
        if max |cos(g, w)| < delta / sqrt(view size): u = u - w_hat <w_hat, u>, with
        w_hat = w / (||w|| + eps) in that view, and the weight decay is scaled by wd_ratio
    update = lr * weight_decay * ratio * w + lr / (1 - beta1^t) * u

    Heo et al., "AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant
    Weights" (2021).
    """
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    inv = sqrt(1 - beta2 ** t) / (sqrt(v) + eps)
    u = where(nesterov, interp(g, m, beta1), m) * inv''' + _PROJECT + '''
    return lr * weight_decay * ratio * w + lr / (1 - beta1 ** t) * u, m, v
'''

SGDP = '''
def sgdp(w, g, b, lr=0.001, momentum=0.0, dampening=0.0, weight_decay=0.0, delta=0.1,
         wd_ratio=0.1, nesterov=0.0, eps=1e-08):
    """SGDP: SGD (with momentum) whose step loses its radial part on scale-invariant weights.

    b = momentum * b + (1 - dampening) * g;  u = momentum * b + g if nesterov else b
    projection of u and wd ratio as in adamp
    update = lr * weight_decay * ratio / (1 - momentum) * w + lr * u

    Heo et al., "AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant
    Weights" (2021).
    """
    b = momentum * b + (1 - dampening) * g
    u = where(nesterov, b * momentum + g, b)''' + _PROJECT + '''
    return lr * weight_decay * (ratio / (1 - momentum)) * w + lr * u, b
'''

SWATS = '''
def swats(w, g, m, v, buf, lam, phase, sgd_lr, t, lr=0.001, beta1=0.9, beta2=0.999,
          eps=1e-08, switch_eps=1e-09):
    """SWATS: Adam until the projected SGD step size settles, then SGD with that step size.

    Adam phase: m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
        p = lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)   (update = p)
        where <p, g> != 0 (over all tensors): gamma = <p, p> / <p, g>;
            lam = interp(gamma, lam, beta2)
            switch when t > 1 and |lam / (1 - beta2^t) - gamma| < switch_eps, with
            sgd_lr = lam / (1 - beta2^t)
    SGD phase: buf = beta1 * buf + g;  update = (1 - beta1) * sgd_lr * buf

    Keskar & Socher, "Improving Generalization Performance by Switching from Adam to SGD"
    (2017).
    """
    m1 = interp(g, m, beta1)
    v1 = interp(g * g, v, beta2)
    bc2 = 1 - beta2 ** t
    p = lr * sqrt(bc2) / (1 - beta1 ** t) * m1 / (sqrt(v1) + eps)
    pg = global_dot(p, g)
    gamma = global_dot(p, p) / pg
    lam1 = where(abs(pg), interp(gamma, lam, beta2), lam)
    close = where(switch_eps - abs(lam1 / bc2 - gamma), 1, 0)
    switch = where(t - 1, where(abs(pg), close, 0), 0)
    buf1 = beta1 * buf + g
    step = where(phase, (1 - beta1) * sgd_lr * buf1, p)
    m = where(phase, m, m1)
    v = where(phase, v, v1)
    buf = where(phase, buf1, buf)
    sgd_lr = where(phase, sgd_lr, where(switch, lam1 / bc2, sgd_lr))
    lam = where(phase, lam, lam1)
    phase = where(phase, 1, switch)
    return step, m, v, buf, lam, phase, sgd_lr
'''

ADAPTIVE_BRAKING = '''
def adaptive_braking(w, g, v, lr=0.1, momentum=0.9, rho=1.0):
    """Heavy ball with Adaptive Braking: the gradient is scaled by its alignment with the velocity.

    cos = <g, v> / (||g|| ||v||) per tensor (0 while v = 0)
    v = momentum * v + (1 - rho * align) * g;  update = lr * v

    Venigalla et al., "Adaptive Braking for Mitigating Gradient Delay" (2020).
    """
    nn = norm(g) * norm(v)
    align = where(nn, dot(g, v) / nn, 0)
    v = momentum * v + (1 - rho * align) * g
    return lr * v, v
'''


def _adamp_kwargs(h):
    return dict(lr=h["lr"], weight_decay=h["weight_decay"], delta=h["delta"],
                wd_ratio=h["wd_ratio"], nesterov=bool(h["nesterov"]), eps=h["eps"])


def _adamp(params, h):
    from pytorch_optimizer import AdamP  # noqa: PLC0415 - optional dependency

    return AdamP(params, betas=(h["beta1"], h["beta2"]), **_adamp_kwargs(h))


def _sgdp(params, h):
    from pytorch_optimizer import SGDP  # noqa: PLC0415 - optional dependency

    return SGDP(params, momentum=h["momentum"], dampening=h["dampening"], **_adamp_kwargs(h))


def _swats(params, h):
    from discover.references.reductions import SwatsPaper  # noqa: PLC0415

    return SwatsPaper(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                      switch_eps=h["switch_eps"])


def _adaptive_braking(params, h):
    from discover.references.reductions import AdaptiveBraking  # noqa: PLC0415

    return AdaptiveBraking(params, lr=h["lr"], momentum=h["momentum"], rho=h["rho"])



ENTRIES = (
    Entry(
        name="adamp",
        source=ADAMP,
        paper="AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant "
              "Weights",
        authors="Heo et al.",
        year=2021,
        references=(Reference("pytorch_optimizer.AdamP", _adamp, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.01, "weight_decay": 0.1, "delta": 1.0, "beta1": 0.8},
            {"lr": 0.1, "nesterov": 1.0, "delta": 0.5, "wd_ratio": 0.5, "weight_decay": 0.01,
             "beta2": 0.99},
        ),
        notes="As the package (and the official code up to eps placement: the package puts eps "
              "on sqrt(v) and multiplies by sqrt(1 - beta2^t); clovaai adds eps to "
              "sqrt(v / (1 - beta2^t))). The cosine similarities are torch's (each vector "
              "normalised by max(norm, eps) first). Decoupled weight decay only: the package's "
              "L2 option adds the decay to the gradient after the moments are formed, where it "
              "has no effect.",
    ),
    Entry(
        name="sgdp",
        source=SGDP,
        paper="AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant "
              "Weights",
        authors="Heo et al.",
        year=2021,
        references=(Reference("pytorch_optimizer.SGDP", _sgdp, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01, "delta": 1.0},
            {"lr": 0.05, "momentum": 0.5, "dampening": 0.1, "nesterov": 1.0, "delta": 0.5,
             "wd_ratio": 0.5, "weight_decay": 0.001},
        ),
        notes="As the package: the decoupled weight decay is divided by 1 - momentum (the "
              "official SGDP's scaling) and multiplied by wd_ratio where the step was projected.",
    ),
    Entry(
        name="swats",
        source=SWATS,
        paper="Improving Generalization Performance by Switching from Adam to SGD",
        authors="Keskar & Socher",
        year=2017,
        references=(Reference("discover.references.reductions.SwatsPaper (paper form)", _swats),),
        settings=(
            {},
            {"lr": 0.01, "switch_eps": 0.001, "beta2": 0.99},
            {"lr": 0.003, "switch_eps": 0.01, "beta1": 0.8, "beta2": 0.9},
        ),
        notes="The paper's Algorithm 1 over the whole parameter vector (inner products over "
              "every tensor of the group). pytorch_optimizer.SWATS tests the criterion per "
              "tensor with a relative tolerance (allclose, rtol = eps = 1e-6, atol = 1e-8) and "
              "lets the last eligible tensor set the group's SGD rate, so it is not a "
              "reference. The phase and the SGD rate are group-level scalars.",
    ),
    Entry(
        name="adaptive_braking",
        source=ADAPTIVE_BRAKING,
        paper="Adaptive Braking for Mitigating Gradient Delay",
        authors="Venigalla et al.",
        year=2020,
        references=(
            Reference("discover.references.reductions.AdaptiveBraking (paper form)",
                      _adaptive_braking),
        ),
        settings=(
            {},
            {"lr": 0.05, "momentum": 0.95, "rho": 2.0},
            {"lr": 0.2, "momentum": 0.5, "rho": 0.5},
        ),
        notes="The scaling 1 - rho cos(g, v), per layer (tensor), before a heavy-ball update "
              "with lr outside the velocity (torch's SGD convention). The exact functional form "
              "and rho are from the catalogue's reading of the paper and are not confirmed "
              "against its text; no package implements it.",
    ),
)
