"""Adam variants steered by per-tensor or group-wide statistics: AdamS, Adai, AvaGrad, AdaNorm,
FAdam and Amos.

AdamS scales its decoupled weight decay by the group's mean second moment; Adai sets a
per-coordinate momentum from v relative to that mean; AvaGrad normalises the step by the
group's harmonic mean of step sizes; AdaNorm rescales small gradients up to their running
norm; FAdam clips the Fisher-preconditioned gradient and weight decay by their RMS; Amos uses
one second moment per tensor and decays weights towards a shape-dependent scale.

The statistics use the language's reductions (``global_sum``/``global_numel`` over the group,
``norm``/``rms`` over one tensor). References: the ``pytorch_optimizer`` classes named in each
entry; pytorch_optimizer takes AdamS's and Adai's means over every group of the optimizer, the
programs over their own group (the same when there is one group).
"""

from __future__ import annotations

import torch

from ..base import Entry, Reference, betas, po_class

__all__ = ["ENTRIES"]

ADAMS = '''
def adams(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0001):
    """AdamS: Adam with weight decay scaled by 1 / sqrt(mean v_hat) (stable weight decay).

    m = interp(g, m, beta1);  v = interp(g^2, v, beta2);  v_hat = v / (1 - beta2^t)
    mean = sum(v_hat) / count over all tensors of the group
    update = lr weight_decay w / (sqrt(mean) + eps) + lr / (1 - beta1^t) m / (sqrt(v_hat) + eps)

    Xie et al., "Understanding and Scheduling Weight Decay" (2020; also "Stable Weight Decay
    Regularization").
    """
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    bc2 = 1 - beta2 ** t
    v_mean = global_sum(v) / bc2 / global_numel(v)
    decay = lr * weight_decay / (sqrt(v_mean) + eps) * w
    return decay + lr / (1 - beta1 ** t) * m / (sqrt(v / bc2) + eps), m, v
'''

ADAI = '''
def adai(w, g, m, v, prod: 1.0, t, lr=0.001, beta0=0.1, beta2=0.99, eps=0.001,
         weight_decay=0.0, weight_decouple=0.0, stable_weight_decay=0.0, dampening=1.0):
    """Adai: SGD with momentum whose per-coordinate inertia beta1 adapts to v / mean(v).

    d = g + weight_decay * w (L2; none with weight_decouple; stable_weight_decay keeps it out
    of v);  v = interp(d^2, v, beta2);  v_hat = v / (1 - beta2^t)
    mean = max(sum(v_hat) / count over the group, eps)
    beta1 = clip(1 - beta0 (v_hat / mean)^(1 / (3 - 2 dampening)), 0, 1 - eps)
    m = beta1 m + (1 - beta1)^dampening d;  prod = prod * beta1   (prod starts at 1)
    update = lr beta0^(1 - dampening) m / (1 - prod)  (+ lr weight_decay w when decoupled)

    Xie, Wang, Zhang, Sato & Sugiyama, "Adaptive Inertia: Disentangling the Effects of Adaptive
    Learning Rate and Momentum" (ICML 2022).
    """
    l2 = where(weight_decouple, 0, weight_decay)
    dv = g + where(stable_weight_decay, 0, l2) * w
    d = g + l2 * w
    v = interp(dv * dv, v, beta2)
    bc2 = 1 - beta2 ** t
    v_mean = max(global_sum(v) / bc2 / global_numel(v), eps)
    b1 = clamp(1 - (v / bc2 / v_mean) ** (1 / (3 - 2 * dampening)) * beta0, 0, 1 - eps)
    prod = prod * b1
    m = b1 * m + (1 - b1) ** dampening * d
    decay = where(weight_decouple, lr * weight_decay, 0) * w
    return decay + lr * (m / (1 - prod)) * beta0 ** (1 - dampening), m, v, prod
'''

AVAGRAD = '''
def avagrad(w, g, m, v, gamma, t, lr=0.1, beta1=0.9, beta2=0.999, eps=0.1, weight_decay=0.0):
    """AvaGrad: Adam with the previous v, normalised by the group's mean step size.

    m = interp(g, m, beta1);  eta = 1 / (sqrt(v / (1 - beta2^(t-1))) + eps)  (v of step t-1)
    update = lr gamma / (1 - beta1^t) * m * eta for t > 1 (no step at t = 1) + lr wd w
    then gamma = 1 / sqrt(mean over the group of 1 / d^2), d = sqrt(v) / sqrt(1 - beta2^t) + eps,
    and v = interp(g^2, v, beta2)   (gamma is a group scalar, used at the next step)

    Savarese, McAllester, Babu & Maire, "Domain-independent Dominance of Adaptive Methods"
    (CVPR 2021).
    """
    m = interp(g, m, beta1)
    root = sqrt(v)
    prev = sqrt(where(t - 1, 1 - beta2 ** (t - 1), 1))
    step = where(t - 1, lr * gamma / (1 - beta1 ** t) * m / (root / prev + eps), 0)
    d = root / sqrt(1 - beta2 ** t) + eps
    gamma = 1 / sqrt(global_sum(1 / (d * d)) / global_numel(d))
    v = interp(g * g, v, beta2)
    return step + lr * weight_decay * w, m, v, gamma
'''

ADANORM = '''
def adanorm(w, g, m, v, e, t, lr=0.001, beta1=0.9, beta2=0.99, r=0.95, eps=1e-08,
            weight_decay=0.0):
    """AdaNorm: Adam whose momentum sees g rescaled up to the EMA of its norm when smaller.

    n = ||g|| (one tensor);  e = r e + (1 - r) n;  s = g e / n if e > n > 0, else g
    m = interp(s, m, beta1);  v = interp(g^2, v, beta2)
    update = lr / (1 - beta1^t) * m / ((sqrt(v + 1e-15) + eps) / sqrt(1 - beta2^t))
             + lr * weight_decay * w

    Dubey, Singh & Chaudhuri, "AdaNorm: Adaptive Gradient Norm Correction based Optimizer for
    CNNs" (WACV 2023).
    """
    n = norm(g)
    e = r * e + (1 - r) * n
    s = where(min(n, e - n), g * e / n, g)
    m = interp(s, m, beta1)
    v = interp(g * g, v, beta2)
    den = (sqrt(v + 1e-15) + eps) / sqrt(1 - beta2 ** t)
    return lr / (1 - beta1 ** t) * m / den + lr * weight_decay * w, m, v, e
'''

FADAM = '''
def fadam(w, g, m, fim, t, lr=0.001, beta1=0.9, beta2=0.999, weight_decay=0.1, clip_rms=1.0,
          p=0.5, eps=1e-08, eps_2=0.01):
    """FAdam: Adam read as natural gradient with the diagonal empirical Fisher, with RMS clips.

    b = beta2 (1 - beta2^(t-1)) / (1 - beta2^t);  fim = interp(g^2, fim, b)  (bias-free EMA)
    e = (eps_2 rms(g))^(2p) if 0 < eps_2 rms(g) < eps, else eps^(2p);  base = fim^p + e
    u = g / base;  u = u / max(rms(u) / clip_rms, 1);  m = interp(u, m, beta1)
    d = w / base;  d = d / max(rms(d) / clip_rms, 1);  update = lr (m + weight_decay d)

    Hwang, "FAdam: Adam is a natural gradient optimizer using diagonal empirical Fisher
    information" (2024).
    """
    b = (beta2 ** t - beta2) / (beta2 ** t - 1)
    fim = b * fim + (1 - b) * (g * g)
    rg = rms(g)
    se = eps_2 * rg
    base = fim ** p + where(min(rg, eps - se), se ** (2 * p), eps ** (2 * p))
    u = g / base
    m = interp(u / max(rms(u) / clip_rms, 1), m, beta1)
    d = w / base
    return lr * (weight_decay * (d / max(rms(d) / clip_rms, 1)) + m), m, fim
'''


AMOS = '''
def amos(w, g, m, v, decay, t, lr=0.001, beta=0.999, momentum=0.0, extra_l2=0.0, c_coef=0.25,
         d_coef=0.25, eps=1e-18):
    """Amos: a per-tensor Adam-style step plus weight decay towards a model-oriented scale.

    scale = 0.5 (vectors), sqrt(2 / fan) (matrices), sqrt(1 / fan) (ndim 3, 4); fan = size(1)
    v = interp(mean(g^2), v, beta);  r = (1 - beta^t) / (v + eps);  lr0 = lr * scale
    gamma = lr^2 r mean(g^2) / sqrt(1 + c_coef sqrt(lr) decay)
    u = (w (gamma - extra_l2) / 2 + lr0 sqrt(r) g) / (1 + d_coef sqrt(lr0) decay)
    decay = decay (1 + gamma) + gamma;  m = interp(u, m, momentum);  update = m (u if momentum = 0)

    Tian & Parikh, "Amos: An Adam-style Optimizer with Adaptive Weight Decay towards
    Model-Oriented Scale" (2022).
    """
    n = numel(g)
    last = n / numel(row_mean(g))
    fan3 = n / (numel(unit_sum(g)) * last)
    fan4 = fan3 / (n / numel(col_mean(g)))
    high = sqrt(1 / where(ndim(g) - 3, fan4, fan3))
    scale = where(ndim(g) - 1, where(ndim(g) - 2, high, sqrt(2 / last)), 0.5)
    g2 = mean(g * g)
    v = interp(g2, v, beta)
    r = (1 - beta ** t) / (v + eps)
    lr0 = lr * scale
    gamma = 1 / sqrt(1 + c_coef * sqrt(lr) * decay) * lr ** 2 * r * g2
    u = (w * ((gamma - extra_l2) / 2) + lr0 * sqrt(r) * g) / (1 + d_coef * sqrt(lr0) * decay)
    decay = decay * (1 + gamma) + gamma
    m = interp(u, m, momentum)
    return where(momentum, m, u), m, v, decay
'''


def _adams(params, h):
    return po_class("AdamS")(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                             weight_decay=h["weight_decay"])


def _adai(params, h):
    return po_class("Adai")(params, lr=h["lr"], betas=(h["beta0"], h["beta2"]), eps=h["eps"],
                            weight_decay=h["weight_decay"],
                            weight_decouple=bool(h["weight_decouple"]),
                            stable_weight_decay=bool(h["stable_weight_decay"]),
                            dampening=h["dampening"])


def _avagrad(params, h):
    return po_class("AvaGrad")(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                               weight_decay=h["weight_decay"])


def _adanorm(params, h):
    return po_class("AdaNorm")(params, lr=h["lr"], betas=betas(h), r=h["r"], eps=h["eps"],
                               weight_decay=h["weight_decay"])


def _fadam(params, h):
    # float64 moments: the defaults keep them in float32, which is not a 1e-10 reference
    return po_class("FAdam")(params, lr=h["lr"], betas=betas(h), weight_decay=h["weight_decay"],
                             clip=h["clip_rms"], p=h["p"], eps=h["eps"], eps_2=h["eps_2"],
                             momentum_dtype=torch.float64, fim_dtype=torch.float64)


def _amos(params, h):
    return po_class("Amos")(params, lr=h["lr"], beta=h["beta"], momentum=h["momentum"],
                            extra_l2=h["extra_l2"], c_coef=h["c_coef"], d_coef=h["d_coef"],
                            eps=h["eps"])


ENTRIES = (
    Entry(
        name="adams",
        source=ADAMS,
        paper="Understanding and Scheduling Weight Decay",
        authors="Xie et al.",
        year=2020,
        references=(Reference("pytorch_optimizer.AdamS", _adams, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
                  {"lr": 0.003, "beta2": 0.9, "eps": 1e-12, "weight_decay": 0.1}),
        notes="The mean of v_hat is over every tensor of the group (global_sum / "
              "global_numel); pytorch_optimizer takes it over all groups.",
    ),
    Entry(
        name="adai",
        source=ADAI,
        paper="Adaptive Inertia: Disentangling the Effects of Adaptive Learning Rate and "
              "Momentum",
        authors="Xie, Wang, Zhang, Sato & Sugiyama",
        year=2022,
        references=(Reference("pytorch_optimizer.Adai", _adai, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "beta0": 0.3, "beta2": 0.9, "weight_decay": 0.01,
                       "dampening": 0.5},
                  {"lr": 0.003, "beta2": 0.999, "eps": 1e-4, "weight_decay": 0.05,
                   "weight_decouple": 1.0, "stable_weight_decay": 1.0}),
        notes="beta0 and beta2 are pytorch_optimizer's betas; the mean of v_hat is over the "
              "group (pytorch_optimizer: over all groups).",
    ),
    Entry(
        name="avagrad",
        source=AVAGRAD,
        paper="Domain-independent Dominance of Adaptive Methods",
        authors="Savarese, McAllester, Babu & Maire",
        year=2021,
        references=(
            Reference("pytorch_optimizer.AvaGrad", _avagrad, requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.3, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
                  {"lr": 0.03, "beta2": 0.9, "eps": 0.01}),
        notes="As pytorch_optimizer: gamma is computed from v before this step's update with "
              "this step's bias correction and used at the next step, so it lags the "
              "denominator it normalises by one step. gamma is a group scalar kept as state "
              "of shape (). Decoupled weight decay.",
    ),
    Entry(
        name="adanorm",
        source=ADANORM,
        paper="AdaNorm: Adaptive Gradient Norm Correction based Optimizer for CNNs",
        authors="Dubey, Singh & Chaudhuri",
        year=2023,
        references=(
            Reference("pytorch_optimizer.AdaNorm", _adanorm, requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.999, "r": 0.9,
                       "weight_decay": 0.01},
                  {"lr": 0.003, "beta2": 0.9, "r": 0.99, "eps": 1e-12}),
        notes="Adam's efficient form (eps on the raw sqrt(v), folded bias correction) with "
              "sqrt(v + 1e-15), as pytorch_optimizer. The norm EMA e is a per-tensor scalar. "
              "Decoupled weight decay.",
    ),
    Entry(
        name="fadam",
        source=FADAM,
        paper="FAdam: Adam is a natural gradient optimizer using diagonal empirical Fisher "
              "information",
        authors="Hwang",
        year=2024,
        references=(
            Reference("pytorch_optimizer.FAdam(float64 states)", _fadam,
                      requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01,
                       "clip_rms": 0.5},
                  {"lr": 0.003, "weight_decay": 0.0, "p": 0.4, "eps": 1e-4, "eps_2": 0.1}),
        notes="pytorch_optimizer keeps the momentum and Fisher estimates in float32 by "
              "default (momentum_dtype, fim_dtype); it is verified with float64 states. The "
              "Fisher EMA uses the bias-corrected rate (beta2 - beta2^t) / (1 - beta2^t) "
              "instead of a separate bias correction. clip_rms is pytorch_optimizer's clip "
              "(clip is an op name).",
    ),
    Entry(
        name="amos",
        source=AMOS,
        paper="Amos: An Adam-style Optimizer with Adaptive Weight Decay towards "
              "Model-Oriented Scale",
        authors="Tian & Parikh",
        year=2022,
        references=(Reference("pytorch_optimizer.Amos", _amos, requires="pytorch-optimizer"),),
        max_ndim=4,
        settings=({}, {"lr": 0.01, "beta": 0.99, "momentum": 0.9, "extra_l2": 0.01},
                  {"lr": 0.003, "beta": 0.9999, "c_coef": 0.5, "d_coef": 0.1,
                   "eps": 1e-12}),
        notes="pytorch_optimizer's target scale from the shape (its get_scale): fan = "
              "size(1), recovered from numel ratios of the row/column/unit reductions for "
              "tensors of up to 4 dims (max_ndim=4). v and decay are per-tensor scalars. "
              "The momentum (off by default) averages the update itself.",
    ),
)
