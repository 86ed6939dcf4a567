"""pytorch-optimizer classes left from the last pass: Ranger (RAdam + Lookahead + gradient
centralization) and Aida (Adam whose second moment tracks the residual of alternating
projections of the gradient and the momentum).

Each program follows its package class line by line; the docstrings say where the package departs
from the paper.
"""

from __future__ import annotations

from .base import Entry, Reference

__all__ = ["ENTRIES"]

RANGER = '''
def ranger(w, g, m, v, slow: w, t, lr=0.001, beta1=0.95, beta2=0.999, alpha=0.5, k=6.0,
           n_sma_threshold=5.0, degenerated_to_sgd=0.0, weight_decay=0.0, weight_decouple=1.0,
           fixed_decay=0.0, use_gc=1.0, gc_conv_only=0.0, eps=1e-05):
    """Ranger: RAdam with Lookahead and gradient centralization (pytorch_optimizer.Ranger).

    g = g - mean of g over every dim but the first (tensors with ndim > 1; > 3 with gc_conv_only)
    weight decay: w = w (1 - lr wd) (decoupled; wd alone with fixed_decay), else g = g + wd w
    m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
    rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    rho_t >= n_sma_threshold: w = w - lr r / (1 - beta1^t) * m / (sqrt(v) + eps),
        r = sqrt((1 - beta2^t) (rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    else: w = w - s lr / (1 - beta1^t) * m, s = 1 with degenerated_to_sgd and s = -1 without
        (the package multiplies by its rt = -1 flag rather than skipping the step)
    every k steps (t mod k = 0): slow = interp(slow, w, alpha) (slow + alpha (w - slow)); w = slow

    Wright, "Ranger" (2019): RAdam (Liu et al., 2020) + Lookahead (Zhang et al., 2019) +
    Gradient Centralization (Yong et al., 2020).
    """
    gc_on = use_gc * where(ndim(g) - where(gc_conv_only, 3.5, 1.5), 1, 0)
    gmean = unit_sum(g) / unit_sum(g * 0 + 1)
    g = where(gc_on, g - gmean, g)
    decay = where(weight_decouple, weight_decay * where(fixed_decay, 1, lr), 0)
    w0 = w * (1 - decay)
    d = g + where(weight_decouple, 0, weight_decay) * w
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    beta2_t = beta2 ** t
    bc1 = 1 - beta1 ** t
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2_t / (1 - beta2_t)
    rt = sqrt(max((1 - beta2_t) * (rho_t - 4) / (rho_inf - 4) * (rho_t - 2) / rho_t * rho_inf / (rho_inf - 2), 0))
    rect = where(n_sma_threshold - rho_t, 0, 1)
    step_rect = lr * rt / bc1 * m / (sqrt(v) + eps)
    step_sgd = where(degenerated_to_sgd, 1, -1) * (lr / bc1) * m
    fast = w0 - where(rect, step_rect, step_sgd)
    sync = 0.5 - fmod(t, k)
    slow = where(sync, slow + alpha * (fast - slow), slow)
    w_new = where(sync, slow, fast)
    return w - w_new, m, v, slow
'''

AIDA = '''
def aida(w, g, m, var, vmax, t, lr=0.001, beta1=0.9, beta2=0.999, k=2.0, xi=1e-20,
         weight_decay=0.0, weight_decouple=0.0, fixed_decay=0.0, rectify=0.0, n_sma_threshold=5.0,
         degenerated_to_sgd=1.0, ams_bound=0.0, eps=1e-08):
    \"\"\"Aida: Adam whose second moment tracks the residual of k alternating projections of the
    gradient and the momentum onto each other (pytorch_optimizer.Aida).

    d = g + wd w (or w = w (1 - lr wd) with weight_decouple; wd alone with fixed_decay)
    m = interp(d, m, beta1);  pg = d;  pm = m
    k times: s = sum(pg pm);  pg = pg s / (sum(pg^2) + xi);  pm = pm s / (sum(pm^2) + xi)
    in closed form (pg stays a multiple of d, pm of m): with G = sum(d^2) + xi,
    M = sum(m^2) + xi, D = sum(d m), c = D^2 / (G M):
    pm - pg = c^(k/2) (m - d) for even k, c^((k-1)/2) (D / M m - D / G d) for odd k
    var = interp((pm - pg)^2, var, beta2) + eps;  vmax = max(vmax, var) with ams_bound
    den = sqrt(var (or vmax) + 1e-15) + eps
    update = lr / (1 - beta1^t) * m / (den / sqrt(1 - beta2^t)), or with rectify RAdam's
    rectified step lr r / (1 - beta1^t) * m / den once rho_t >= n_sma_threshold, before that
    lr / (1 - beta1^t) * m with degenerated_to_sgd and no step without

    Zhang et al., "On the Variance of Adaptive Optimizers: Aida" (2024).
    \"\"\"
    decay = where(weight_decouple, weight_decay * where(fixed_decay, 1, lr), 0)
    w0 = w * (1 - decay)
    d = g + where(weight_decouple, 0, weight_decay) * w
    m = interp(d, m, beta1)
    gg = dot(d, d) + xi
    mm = dot(m, m) + xi
    gm = dot(d, m)
    odd = fmod(k, 2)
    c = gm * gm / (gg * mm)
    r = c ** ((k - odd) / 2) * (where(odd, gm / mm, 1) * m - where(odd, gm / gg, 1) * d)
    var = interp(r * r, var, beta2) + eps
    vmax = where(ams_bound, max(vmax, var), vmax)
    den = sqrt(where(ams_bound, vmax, var) + 1e-15) + eps
    bc1 = 1 - beta1 ** t
    beta2_t = beta2 ** t
    plain = lr / bc1 * m / (den / sqrt(1 - beta2_t))
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2_t / (1 - beta2_t)
    rt = sqrt(max((1 - beta2_t) * (rho_t - 4) / (rho_inf - 4) * (rho_t - 2) / rho_t * rho_inf / (rho_inf - 2), 0))
    rect = where(n_sma_threshold - rho_t, where(degenerated_to_sgd, lr / bc1 * m, 0), lr * rt / bc1 * m / den)
    step = where(rectify, rect, plain)
    return w - (w0 - step), m, var, vmax
'''

APOLLO_DQN = '''
def apollo_dqn(w, g, avg, b, u, t, lr=0.01, init_lr=1e-05, beta=0.9, rebound_belief=0.0,
               weight_decay=0.0, weight_decay_type=0.0, warmup_steps=500.0, eps=0.0001):
    \"\"\"Apollo: a diagonal quasi-Newton method with a rectified Hessian bound
    (pytorch_optimizer.ApolloDQN; weight_decay_type 0 = l2, 1 = decoupled, 2 = stable;
    rebound_belief 1 = rebound 'belief', 0 = 'constant').

    d = g + wd w (l2);  delta = d - avg;  alpha = (1 - beta) / (1 - beta^t)
    avg = avg + alpha delta;  e = eps / 0.01 ('constant') or eps ('belief')
    u = u / (||u||_4 + e);  q = sum(delta / (||u_old||_4 + e) * u) * -alpha - sum(b u^2)
    b = b + u^2 q;  den = max(|b|, 0.01) ('constant'), max(|b|, ||delta||_inf) + e / alpha ('belief')
    u = avg / den (+ wd w decoupled, + wd / mean(den) * w stable)
    lr_t = lr once t >= warmup_steps, else init_lr + (lr - init_lr) t / warmup_steps
    update = lr_t u

    Ma, "Apollo: An Adaptive Parameter-wise Diagonal Quasi-Newton Method for Nonconvex
    Stochastic Optimization" (2020).
    \"\"\"
    d = g + where(weight_decay_type, 0, weight_decay) * w
    delta = d - avg
    rebound = where(rebound_belief, absmax(delta), 0.01)
    alpha = (1 - beta) / (1 - beta ** t)
    avg = avg + alpha * delta
    e = where(rebound_belief, eps, eps / 0.01)
    nrm = sum(u * u * (u * u)) ** 0.25 + e
    u = u / nrm
    vsq = u * u
    q = sum(delta / nrm * u) * (0 - alpha) - sum(b * vsq)
    b = b + vsq * q
    den = max(abs(b), rebound) + where(rebound_belief, e / alpha, 0)
    u = avg / den
    decay = where(weight_decay_type, where(weight_decay_type - 1.5, weight_decay / mean(den), weight_decay), 0)
    u = u + decay * w
    lr_t = where(t - warmup_steps + 0.5, lr, (lr - init_lr) * t / warmup_steps + init_lr)
    return lr_t * u, avg, b, u
'''


def _ranger(params, h):
    from pytorch_optimizer import Ranger  # noqa: PLC0415 - optional dependency

    return Ranger(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), alpha=h["alpha"],
                  k=int(h["k"]), n_sma_threshold=int(h["n_sma_threshold"]),
                  degenerated_to_sgd=bool(h["degenerated_to_sgd"]),
                  weight_decay=h["weight_decay"], weight_decouple=bool(h["weight_decouple"]),
                  fixed_decay=bool(h["fixed_decay"]), use_gc=bool(h["use_gc"]),
                  gc_conv_only=bool(h["gc_conv_only"]), eps=h["eps"])


def _aida(params, h):
    from pytorch_optimizer import Aida  # noqa: PLC0415 - optional dependency

    return Aida(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), k=int(h["k"]), xi=h["xi"],
                weight_decay=h["weight_decay"], weight_decouple=bool(h["weight_decouple"]),
                fixed_decay=bool(h["fixed_decay"]), rectify=bool(h["rectify"]),
                n_sma_threshold=int(h["n_sma_threshold"]),
                degenerated_to_sgd=bool(h["degenerated_to_sgd"]),
                ams_bound=bool(h["ams_bound"]), eps=h["eps"])


def _apollo_dqn(params, h):
    from pytorch_optimizer import ApolloDQN  # noqa: PLC0415 - optional dependency

    return ApolloDQN(params, lr=h["lr"], init_lr=h["init_lr"], beta=h["beta"],
                     rebound="belief" if h["rebound_belief"] else "constant",
                     weight_decay=h["weight_decay"],
                     weight_decay_type=("l2", "decoupled", "stable")[int(h["weight_decay_type"])],
                     warmup_steps=int(h["warmup_steps"]), eps=h["eps"])



ENTRIES = (
    Entry(
        name="ranger",
        source=RANGER,
        paper="Ranger: RAdam + Lookahead (+ Gradient Centralization)",
        authors="Wright",
        year=2019,
        references=(Reference("pytorch_optimizer.Ranger", _ranger, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"k": 3.0, "alpha": 0.7, "weight_decay": 0.1, "beta2": 0.99, "lr": 0.01,
             "degenerated_to_sgd": 1.0},
            {"k": 4.0, "use_gc": 0.0, "weight_decay": 0.01, "weight_decouple": 0.0,
             "n_sma_threshold": 4.0, "beta1": 0.9},
            {"gc_conv_only": 1.0, "fixed_decay": 1.0, "weight_decay": 0.001, "k": 5.0},
        ),
        notes="As the package: before rho_t reaches n_sma_threshold the step is lr / (1 - "
              "beta1^t) * m with the sign of the package's rt flag (-1 unless "
              "degenerated_to_sgd), decoupled weight decay is applied before the RAdam step, "
              "the Lookahead pull (slow weights started at w) happens whenever t is a multiple "
              "of k, and gradient centralization subtracts the per-unit mean over every "
              "dimension but the first for tensors of more than one dimension (more than three "
              "with gc_conv_only).",
    ),
    Entry(
        name="aida",
        source=AIDA,
        paper="On the Variance of Adaptive Optimizers: Aida",
        authors="Zhang et al.",
        year=2024,
        references=(Reference("pytorch_optimizer.Aida", _aida, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"k": 3.0, "weight_decay": 0.01, "rectify": 1.0, "ams_bound": 1.0, "lr": 0.01},
            {"k": 1.0, "weight_decay": 0.1, "weight_decouple": 1.0, "rectify": 1.0,
             "degenerated_to_sgd": 0.0, "beta1": 0.8},
            {"k": 4.0, "weight_decay": 0.05, "weight_decouple": 1.0, "fixed_decay": 1.0,
             "beta2": 0.99},
            {"k": 0.0, "lr": 0.01},
            {"k": 7.0, "ams_bound": 1.0, "weight_decay": 0.01},
            {"k": 40.0, "lr": 0.01, "beta1": 0.5},
        ),
        notes="The package loops k times; each projection only rescales (pg stays a multiple "
              "of d, pm of m, and their coefficients swap), so the program takes the loop's "
              "closed form and covers every k (0, 1, 2, 3, 4, 7 and 40 verified). That form "
              "is exact for k <= 1; for k >= 2 the package adds xi to the squared norm in every "
              "projection, the closed form in the first only (where it guards 0 / 0), a "
              "relative difference of order xi / sum(pg^2) per projection: none at the "
              "default xi = 1e-20 (1e-15 in verify), 3e-9 on verify's problem with xi = 1e-8, "
              "so xi far above its default is not covered. As the package, eps is added to "
              "the stored second moment every step and again to its square root.",
    ),
    Entry(
        name="apollo_dqn",
        source=APOLLO_DQN,
        paper="Apollo: An Adaptive Parameter-wise Diagonal Quasi-Newton Method for Nonconvex "
              "Stochastic Optimization",
        authors="Ma",
        year=2020,
        references=(Reference("pytorch_optimizer.ApolloDQN", _apollo_dqn, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"rebound_belief": 1.0, "weight_decay": 0.01, "warmup_steps": 50.0, "lr": 0.05},
            {"weight_decay_type": 1.0, "weight_decay": 0.01, "warmup_steps": 20.0,
             "beta": 0.8, "init_lr": 0.001},
            {"weight_decay_type": 2.0, "weight_decay": 0.001, "warmup_steps": 10.0},
        ),
        notes="The string options are 0/1/2 hyperparameters: rebound_belief (1 = 'belief') and "
              "weight_decay_type (0 = 'l2', 1 = 'decoupled', 2 = 'stable'). The stored update "
              "u includes the decoupled decay, as in the package, and feeds the next step's "
              "Hessian estimate.",
    ),
)
