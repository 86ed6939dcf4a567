"""Ranger and Ranger21: RAdam- and AdamW-style steps combined with Lookahead and gradient
centralization (``pytorch_optimizer.Ranger`` and ``pytorch_optimizer.Ranger21``).

Ranger is RAdam + Lookahead + gradient centralization. Ranger21 adds positive-negative momentum,
adaptive gradient clipping, gradient normalization, stable weight decay, norm loss, a softplus of
the denominator and a warm-up / warm-down schedule.

Every part has an op: the schedule reads ``t`` and the hyperparameter ``num_iterations`` (the
package's ceil / int written with ``fmod``), stable weight decay reads the group's second moment
through ``global_sum`` / ``global_numel``, the alternating momentum buffers swap roles as in
``pnm``, and the Lookahead slow weights are a state started at ``w``. Each program follows its
package class line by line; the docstrings say where the package departs from the paper.
"""

from __future__ import annotations

from ..base import Entry, Reference

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

RANGER21 = '''
def ranger21(w, g, v, vmax, last, other, slow: w, t, num_iterations=1000.0, lr=0.001, beta0=0.9,
             beta1=0.9, beta2=0.999, use_softplus=1.0, beta_softplus=50.0,
             disable_lr_scheduler=0.0, num_warm_up_iterations=-1.0,
             num_warm_down_iterations=-1.0, warm_down_min_lr=3e-05, agc_clipping_value=0.01,
             agc_eps=0.001, centralize_gradients=1.0, normalize_gradients=1.0,
             lookahead_merge_time=5.0, lookahead_blending_alpha=0.5, weight_decay=0.0001,
             weight_decouple=1.0, fixed_decay=0.0, norm_loss_factor=0.0001, eps=1e-08):
    """Ranger21: AdamW-style steps with positive-negative momentum, adaptive gradient clipping,
    gradient centralization and normalization, stable weight decay, norm loss, softplus of the
    denominator, Lookahead and a warm-up / warm-down schedule (pytorch_optimizer.Ranger21).

    unit norm ||x||_u: per output unit (row, filter) for ndim > 1, the whole tensor for a vector
    agc:  g = g * limit / n where n > limit, limit = agc_clipping_value max(||w||_u, agc_eps),
          n = max(||g||_u, 1e-6)
    prep: g = g - mean of g over every dim but the first (ndim > 1, centralize_gradients);
          g = g / (std(g) + 1e-8) (unbiased std; numel > 2, normalize_gradients)
    g = prep(agc(g));  v = interp(g^2, v, beta2)
    vn = sqrt((1 + sum over the group of v / (1 - beta2^t)) / numel of the group)
    lr_t: lr min(1, t / n_up) while t <= n_up; from t >= T - n_down
          max(lr - (lr - warm_down_min_lr) min(max(t + 1 - (T - n_down), 1) / (n_down + 1), 1),
          warm_down_min_lr); lr with disable_lr_scheduler. T = num_iterations; n_up, n_down
          as given, or (-1) n_up = ceil(2 / (1 - beta2)), int(0.22 T) if that exceeds 0.45 T,
          and n_down = T - int(0.72 T)
    w = w (1 - wd lr_t / vn) (decoupled only; wd alone with fixed_decay)
    w = w (1 - lr_t 2 norm_loss_factor (1 - 1 / (||w||_u + eps)))
    vmax = max(vmax, v);  den = softplus(sqrt(vmax) / sqrt(1 - beta2^t) + eps, beta_softplus)
    g = prep(g) (again, as the package);  pos = interp(g, other, beta1^2)
    w = w - lr_t / (1 - beta1^t) ((1 + beta0) pos - beta0 last) / sqrt((1 + beta0)^2 + beta0^2)
        / den, and the momentum buffers swap roles: (last, other) <- (pos, last)
    every lookahead_merge_time steps: w = interp(slow, w, lookahead_blending_alpha); slow = w

    Wright & Demeure, "Ranger21: a synergistic deep learning optimizer" (2021).
    """
    wn = where(ndim(w) - 1, sqrt(unit_sum(w * w)), norm(w))
    gn = where(ndim(g) - 1, sqrt(unit_sum(g * g)), norm(g))
    limit = max(wn, agc_eps) * agc_clipping_value
    n = max(gn, 1e-06)
    g = where(n - limit, g * (limit / n), g)
    gc_on = centralize_gradients * where(ndim(g) - 1.5, 1, 0)
    gn_on = normalize_gradients * where(numel(g) - 2.5, 1, 0)
    count = unit_sum(g * 0 + 1)
    g = where(gc_on, g - unit_sum(g) / count, g)
    g = where(gn_on, g / (sqrt(sum(square(g - mean(g))) / (numel(g) - 1)) + 1e-08), g)
    v = interp(g * g, v, beta2)
    bc2 = 1 - beta2 ** t
    vn = sqrt((1 + global_sum(v / bc2)) / global_numel(w))
    up = 2 / (1 - beta2)
    up = where(fmod(up, 1), up - fmod(up, 1) + 1, up)
    up_pct = 0.22 * num_iterations
    up = where(up / num_iterations - 0.45, up_pct - fmod(up_pct, 1), up)
    n_up = where(num_warm_up_iterations + 0.5, num_warm_up_iterations, up)
    down_pct = 0.72 * num_iterations
    n_down = num_iterations - (down_pct - fmod(down_pct, 1))
    n_down = where(num_warm_down_iterations + 0.5, num_warm_down_iterations, n_down)
    start_down = num_iterations - n_down
    lr_up = where(t - n_up, lr, lr * min(1, t / n_up))
    pct = min(max(t + 1 - start_down, 1) / (n_down + 1), 1)
    lr_down = max(lr - (lr - warm_down_min_lr) * pct, warm_down_min_lr)
    lr_t = where(disable_lr_scheduler, lr, where(t - start_down + 0.5, lr_down, lr_up))
    decay = where(weight_decouple, weight_decay * where(fixed_decay, 1, lr_t) * (1 / vn), 0)
    w1 = w * (1 - decay)
    un = where(ndim(w1) - 1, sqrt(unit_sum(w1 * w1)), norm(w1))
    w1 = w1 * (1 - lr_t * (2 * norm_loss_factor * (1 - 1 / (un + eps))))
    vmax = max(vmax, v)
    den = sqrt(vmax) / sqrt(bc2) + eps
    soft = where(beta_softplus * den - 20, den, log1p(exp(beta_softplus * den)) / beta_softplus)
    den = where(use_softplus, soft, den)
    g = where(gc_on, g - unit_sum(g) / count, g)
    g = where(gn_on, g / (sqrt(sum(square(g - mean(g))) / (numel(g) - 1)) + 1e-08), g)
    pos = interp(g, other, beta1 ** 2)
    pn = ((1 + beta0) * pos - beta0 * last) * (1 / sqrt((1 + beta0) ** 2 + beta0 ** 2))
    fast = w1 - lr_t / (1 - beta1 ** t) * (pn / den)
    sync = 0.5 - fmod(t, lookahead_merge_time)
    w_new = where(sync, interp(slow, fast, lookahead_blending_alpha), fast)
    slow = where(sync, w_new, slow)
    return w - w_new, v, vmax, pos, last, slow
'''


def _ranger(params, h):
    from pytorch_optimizer import Ranger  # noqa: PLC0415 - optional dependency

    return Ranger(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), alpha=h["alpha"],
                  k=int(h["k"]), n_sma_threshold=int(h["n_sma_threshold"]),
                  degenerated_to_sgd=bool(h["degenerated_to_sgd"]),
                  weight_decay=h["weight_decay"], weight_decouple=bool(h["weight_decouple"]),
                  fixed_decay=bool(h["fixed_decay"]), use_gc=bool(h["use_gc"]),
                  gc_conv_only=bool(h["gc_conv_only"]), eps=h["eps"])


def _ranger21(params, h):
    from pytorch_optimizer import Ranger21  # noqa: PLC0415 - optional dependency

    def count(x):  # -1: let the package derive it from num_iterations (its None)
        return None if x < 0 else int(x)

    return Ranger21(params, num_iterations=int(h["num_iterations"]), lr=h["lr"], beta0=h["beta0"],
                    betas=(h["beta1"], h["beta2"]), use_softplus=bool(h["use_softplus"]),
                    beta_softplus=h["beta_softplus"],
                    disable_lr_scheduler=bool(h["disable_lr_scheduler"]),
                    num_warm_up_iterations=count(h["num_warm_up_iterations"]),
                    num_warm_down_iterations=count(h["num_warm_down_iterations"]),
                    warm_down_min_lr=h["warm_down_min_lr"],
                    agc_clipping_value=h["agc_clipping_value"], agc_eps=h["agc_eps"],
                    centralize_gradients=bool(h["centralize_gradients"]),
                    normalize_gradients=bool(h["normalize_gradients"]),
                    lookahead_merge_time=int(h["lookahead_merge_time"]),
                    lookahead_blending_alpha=h["lookahead_blending_alpha"],
                    weight_decay=h["weight_decay"], weight_decouple=bool(h["weight_decouple"]),
                    fixed_decay=bool(h["fixed_decay"]), norm_loss_factor=h["norm_loss_factor"],
                    eps=h["eps"])


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
        name="ranger21",
        source=RANGER21,
        paper="Ranger21: a synergistic deep learning optimizer",
        authors="Wright & Demeure",
        year=2021,
        references=(Reference("pytorch_optimizer.Ranger21", _ranger21,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"num_iterations": 200.0},
            {"num_iterations": 120.0, "lr": 0.01, "weight_decay": 0.01},
            {"num_iterations": 300.0, "num_warm_up_iterations": 30.0,
             "num_warm_down_iterations": 100.0, "beta2": 0.99, "lookahead_merge_time": 3.0,
             "lookahead_blending_alpha": 0.7},
            {"disable_lr_scheduler": 1.0, "use_softplus": 0.0, "centralize_gradients": 0.0,
             "fixed_decay": 1.0, "weight_decay": 0.001, "lr": 0.003},
            {"num_iterations": 200.0, "normalize_gradients": 0.0, "weight_decouple": 0.0,
             "weight_decay": 0.1, "agc_clipping_value": 0.5, "agc_eps": 0.1, "beta0": 0.5,
             "beta1": 0.8, "norm_loss_factor": 0.01},
            {"num_iterations": 5000.0, "beta1": 0.95, "lr": 0.01},
        ),
        notes="Follows the package line by line. The package has no default for "
              "num_iterations (the schedule's length); the program's 1000 is a placeholder "
              "to set to the run's length, and -1 for num_warm_up_iterations / "
              "num_warm_down_iterations stands for the package's None (derived from "
              "num_iterations: the ceil / int of the package are written with fmod). As the "
              "package: the gradient is clipped (AGC) against the weights before any decay, "
              "centralized and normalized once before the second moment and again before "
              "the momentum; the stable-decay divisor vn and the norm loss use the scheduled "
              "lr; with weight_decouple = 0 the package applies no weight decay at all (its "
              "L2 branch gets no gradient), and neither does the program; softplus keeps "
              "torch's threshold (the identity where beta_softplus * den > 20); the momentum "
              "buffers alternate as in `pnm`; the Lookahead pull (slow weights started at w) "
              "comes after the step whenever t is a multiple of lookahead_merge_time. vn "
              "sums over the program's parameter group (the package sums over all groups: "
              "the same for one group). Unit norms reduce over every dim but the first; "
              "the package reduces 3-D tensors over dim 1 only (verify uses no 3-D shape, "
              "as for `sgd_agc`). Not expressed: maximize, and the adam_debias keyword the "
              "package reads from its param group (both off by default).",
    ),
)
