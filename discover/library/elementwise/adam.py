"""The Adam family: Adam, AMSGrad, AdamW, NAdam, RAdam and Adamax, as torch.optim has them.

All use torch's forms exactly: ``m`` and ``v`` are exponential moving averages started at zero,
bias corrections ``1 - beta ** t`` with ``t`` starting at 1, and ``eps`` added to the
bias-corrected ``sqrt(v)`` (Adam's efficient form puts it elsewhere; see each docstring).
"""

from __future__ import annotations

import torch

from .. import signatures
from ..base import Entry, Reference, betas

__all__ = ["ENTRIES"]

ADAM = '''
def adam(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0):
    """Adam with L2 weight decay, as torch.optim.Adam.

    d = g + weight_decay * w;  m = interp(d, m, beta1);  v = interp(d^2, v, beta2)
    update = lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Kingma & Ba, "Adam: A Method for Stochastic Optimization" (2015).
    """
    d = g + weight_decay * w
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    bc1 = 1 - beta1 ** t
    bc2 = 1 - beta2 ** t
    return lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), m, v
'''

AMSGRAD = '''
def amsgrad(w, g, m, v, vmax, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0):
    """AMSGrad: Adam whose denominator uses the running maximum of v.

    d = g + weight_decay * w;  m = interp(d, m, beta1);  v = interp(d^2, v, beta2)
    vmax = max(vmax, v)
    update = lr / (1 - beta1^t) * m / (sqrt(vmax) / sqrt(1 - beta2^t) + eps)

    Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond" (2018).
    """
    d = g + weight_decay * w
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    vmax = max(vmax, v)
    bc1 = 1 - beta1 ** t
    bc2 = 1 - beta2 ** t
    return lr / bc1 * m / (sqrt(vmax) / sqrt(bc2) + eps), m, v, vmax
'''

ADAMW = '''
def adamw(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.01):
    """AdamW: Adam with decoupled weight decay, as torch.optim.AdamW.

    m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
    update = lr * weight_decay * w + lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (2019).
    """
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    bc1 = 1 - beta1 ** t
    bc2 = 1 - beta2 ** t
    return lr * weight_decay * w + lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), m, v
'''

NADAM = '''
def nadam(w, g, m, v, mu_product: 1.0, t, lr=0.002, beta1=0.9, beta2=0.999, eps=1e-08,
          weight_decay=0.0, momentum_decay=0.004, decoupled_weight_decay=0.0):
    """NAdam: Adam with Nesterov momentum and torch's momentum_decay schedule (torch.optim.NAdam).

    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay));  mu_product = prod of mu_1..mu_t
    d = g + weight_decay * w (L2; with decoupled_weight_decay, w decays by lr * weight_decay)
    m = interp(d, m, beta1);  v = interp(d^2, v, beta2);  den = sqrt(v / (1 - beta2^t)) + eps
    update = lr * (1 - mu_t) / (1 - mu_product) * d / den
           + lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / den

    Dozat, "Incorporating Nesterov Momentum into Adam" (2016).
    """
    d = g + where(decoupled_weight_decay, 0, weight_decay) * w
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = mu_product * mu
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    den = sqrt(v / (1 - beta2 ** t)) + eps
    step = lr * (1 - mu) / (1 - mu_product) * d / den
    step = step + lr * mu_next / (1 - mu_product * mu_next) * m / den
    decay = where(decoupled_weight_decay, lr * weight_decay, 0)
    return step + decay * w, m, v, mu_product
'''

RADAM = '''
def radam(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0,
          decoupled_weight_decay=0.0):
    """RAdam: Adam with the variance of the adaptive step rectified (torch.optim.RAdam).

    d = g + weight_decay * w (L2; with decoupled_weight_decay, w decays by lr * weight_decay)
    m = interp(d, m, beta1);  v = interp(d^2, v, beta2)
    rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    update = lr * m / (1 - beta1^t) * r * sqrt(1 - beta2^t) / (sqrt(v) + eps) if rho_t > 5,
             else lr * m / (1 - beta1^t) (SGD with momentum while the variance is intractable)

    Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond" (2020).
    """
    d = g + where(decoupled_weight_decay, 0, weight_decay) * w
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    bc2 = 1 - beta2 ** t
    m_hat = m / (1 - beta1 ** t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / bc2
    r = sqrt(max((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0))
    step = where(rho_t - 5, m_hat * lr * (sqrt(bc2) / (sqrt(v) + eps)) * r, m_hat * lr)
    decay = where(decoupled_weight_decay, lr * weight_decay, 0)
    return step + decay * w, m, v
'''

ADAMAX = '''
def adamax(w, g, m, u, t, lr=0.002, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0):
    """Adamax: Adam with an exponentially weighted infinity norm (torch.optim.Adamax).

    d = g + weight_decay * w;  m = interp(d, m, beta1);  u = max(beta2 * u, |d| + eps)
    update = lr / (1 - beta1^t) * m / u

    Kingma & Ba, "Adam: A Method for Stochastic Optimization" (2015), section 7.1.
    """
    d = g + weight_decay * w
    m = interp(d, m, beta1)
    u = max(beta2 * u, abs(d) + eps)
    return lr / (1 - beta1 ** t) * m / u, m, u
'''


def _adam(params, h):
    return torch.optim.Adam(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                            weight_decay=h["weight_decay"])


def _amsgrad(params, h):
    return torch.optim.Adam(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                            weight_decay=h["weight_decay"], amsgrad=True)


def _adamw(params, h):
    return torch.optim.AdamW(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                             weight_decay=h["weight_decay"])


def _nadam(params, h):
    return torch.optim.NAdam(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                             weight_decay=h["weight_decay"], momentum_decay=h["momentum_decay"],
                             decoupled_weight_decay=bool(h["decoupled_weight_decay"]))


def _radam(params, h):
    return torch.optim.RAdam(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                             weight_decay=h["weight_decay"],
                             decoupled_weight_decay=bool(h["decoupled_weight_decay"]))


def _adamax(params, h):
    return torch.optim.Adamax(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                              weight_decay=h["weight_decay"])


# shared settings: another step size and betas, L2 weight decay, a tiny eps that makes
# sqrt(v) dominate the denominator
_ADAM_SETTINGS = (
    {},
    {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
    {"lr": 0.003, "beta1": 0.95, "beta2": 0.9, "eps": 1e-12},
)

ENTRIES = (
    Entry(
        name="adam",
        signature=signatures.ADAM,
        source=ADAM,
        paper="Adam: A Method for Stochastic Optimization",
        authors="Kingma & Ba",
        year=2015,
        references=(Reference("torch.optim.Adam", _adam),),
        settings=_ADAM_SETTINGS,
        notes="eps is added to sqrt(v) / sqrt(1 - beta2^t) (torch's form); the paper's "
              "efficient form adds it to sqrt(v) and folds sqrt(1 - beta2^t) into the step size.",
    ),
    Entry(
        name="amsgrad",
        signature=signatures.ADAM.with_defaults(amsgrad=True),
        source=AMSGRAD,
        paper="On the Convergence of Adam and Beyond",
        authors="Reddi, Kale & Kumar",
        year=2018,
        references=(Reference("torch.optim.Adam(amsgrad=True)", _amsgrad),),
        settings=_ADAM_SETTINGS,
        reference_overrides=("amsgrad",),
        notes="As torch: the maximum is taken over the raw v, and m and the maximum are bias "
              "corrected; the paper has no bias correction.",
    ),
    Entry(
        name="adamw",
        signature=signatures.ADAMW,
        source=ADAMW,
        paper="Decoupled Weight Decay Regularization",
        authors="Loshchilov & Hutter",
        year=2019,
        references=(Reference("torch.optim.AdamW", _adamw),),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.1},
            {"lr": 0.003, "beta2": 0.9, "eps": 1e-12, "weight_decay": 0.0},
        ),
        notes="The decay is lr * weight_decay * w (torch's form); the paper scales it by the "
              "schedule multiplier eta_t alone, not by the learning rate.",
    ),
    Entry(
        name="nadam",
        signature=signatures.NADAM,
        source=NADAM,
        paper="Incorporating Nesterov Momentum into Adam",
        authors="Dozat",
        year=2016,
        references=(Reference("torch.optim.NAdam", _nadam),),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01,
             "momentum_decay": 0.01},
            {"lr": 0.005, "beta2": 0.9, "weight_decay": 0.05, "decoupled_weight_decay": 1.0},
        ),
        notes="torch's momentum schedule mu_t = beta1 (1 - 0.5 * 0.96^(t psi)), psi = "
              "momentum_decay (Dozat's 0.004); decoupled_weight_decay gives torch's NAdamW.",
    ),
    Entry(
        name="radam",
        signature=signatures.RADAM,
        source=RADAM,
        paper="On the Variance of the Adaptive Learning Rate and Beyond",
        authors="Liu et al.",
        year=2020,
        references=(Reference("torch.optim.RAdam", _radam),),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
            {"lr": 0.005, "beta2": 0.9, "weight_decay": 0.05, "decoupled_weight_decay": 1.0},
        ),
        notes="While rho_t <= 5 the step is SGD with bias-corrected momentum (the official and "
              "torch behaviour; pytorch_optimizer's RAdam skips those steps by default). The "
              "rectifier's argument is clamped at 0 so that the untaken branch stays finite.",
    ),
    Entry(
        name="adamax",
        signature=signatures.ADAMAX,
        source=ADAMAX,
        paper="Adam: A Method for Stochastic Optimization",
        authors="Kingma & Ba",
        year=2015,
        references=(Reference("torch.optim.Adamax", _adamax),),
        settings=_ADAM_SETTINGS,
        notes="As torch, eps is added to |d| inside the maximum (the paper has no eps).",
    ),
)
