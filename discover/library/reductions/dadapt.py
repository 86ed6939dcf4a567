"""D-Adaptation: learning-rate-free SGD, Adam, AdaGrad, Adan and Lion.

Each keeps the distance estimate ``d`` and its numerator/denominator sums as group-level
scalars (state of shape ``()``), computed from group reductions (``global_dot``,
``global_sum``, ``global_norm``); ``growth_rate = 0`` stands for the package's
``float('inf')``.
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

DADAPT_SGD = '''
def dadapt_sgd(w, g, s, x0: w, d: d0, num, g0, t, lr=1.0, momentum=0.9, d0=1e-06,
               growth_rate=0.0, weight_decay=0.0):
    """D-Adaptation SGD: dual averaging with a step size d * lr / ||g_1||, d estimated online.

    g0 = ||g_1||_glob;  dlr = d * lr / g0;  g = g + weight_decay * w
    num = num + dlr <g, s>_glob;  s = s + dlr * g
    d = max(d, min(2 num / ||s||_glob, d * growth_rate))
    w_new = interp(w, x0 - s, 1 - momentum);  update = w - w_new

    Defazio & Mishchenko, "Learning-Rate-Free Learning by D-Adaptation" (2023).
    """
    g0 = where(t - 1, g0, global_norm(g))
    dlr = d * lr / g0
    gd = g + weight_decay * w
    num = num + dlr * global_dot(gd, s)
    s = s + dlr * gd
    d_hat = 2 * num / sqrt(global_sum(s * s))
    d_new = max(d, where(growth_rate, min(d_hat, d * growth_rate), d_hat))
    return (1 - momentum) * (w - (x0 - s)), s, x0, d_new, num, g0
'''

DADAPT_ADAM = '''
def dadapt_adam(w, g, m, v, s, d: d0, nw, t, lr=1.0, beta1=0.9, beta2=0.999, d0=1e-06,
                growth_rate=0.0, weight_decay=0.0, weight_decouple=0.0, bias_correction=0.0,
                eps=1e-08):
    """D-Adaptation Adam: Adam with step size d * lr, d from a weighted dual-averaging bound.

    dlr = d * lr (/ ((1 - beta1^t) / sqrt(1 - beta2^t)) with bias_correction);
    g = g + weight_decay * w (L2; decoupled: w decays by dlr * weight_decay)
    acc = dlr <g, s / (sqrt(v) + eps)>_glob   (s, v before this step)
    m = beta1 m + dlr (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
    s = sqrt(beta2) s + dlr (1 - sqrt(beta2)) g;  nw = interp(acc, nw, sqrt(beta2))
    d = max(d, min(nw / ((1 - sqrt(beta2)) ||s||_1,glob), d * growth_rate))
    update = m / (sqrt(v) + eps)

    Defazio & Mishchenko, "Learning-Rate-Free Learning by D-Adaptation" (2023).
    """
    bc = where(bias_correction, (1 - beta1 ** t) / sqrt(1 - beta2 ** t), 1)
    dlr = d * lr / bc
    gd = g + where(weight_decouple, 0, weight_decay) * w
    sb2 = sqrt(beta2)
    acc = dlr * global_dot(gd, s / (sqrt(v) + eps))
    m = beta1 * m + dlr * (1 - beta1) * gd
    v = beta2 * v + (1 - beta2) * (gd * gd)
    s = sb2 * s + dlr * (1 - sb2) * gd
    nw = interp(acc, nw, sb2)
    d_hat = nw / ((1 - sb2) * global_sum(abs(s)))
    d_new = max(d, where(growth_rate, min(d_hat, d * growth_rate), d_hat))
    decay = where(weight_decouple, dlr * weight_decay, 0)
    return decay * w + m / (sqrt(v) + eps), m, v, s, d_new, nw
'''

DADAPT_ADAGRAD = '''
def dadapt_adagrad(w, g, alpha: 1e-06, sk, x0: w, d: d0, sksq, gsqw, l1, lr=1.0, momentum=0.0,
                   d0=1e-06, growth_rate=0.0, weight_decay=0.0, weight_decouple=0.0, eps=0.0):
    """D-Adaptation AdaGrad: AdaGrad dual averaging from x0 with a step size d * lr.

    dlr = d * lr;  g = g + weight_decay * w (L2; decoupled: w decays by lr * weight_decay)
    alpha = alpha + g^2 (alpha starts at 1e-6);  gsqw = gsqw + dlr^2 sum(g^2 / (sqrt(alpha) + eps))
    sk = sk + dlr * g;  sksq = sum(sk^2 / (sqrt(alpha) + eps));  l1 = ||sk||_1   (all global,
    accumulated as changes, as the package)
    d = max(d, min((sksq - gsqw) / l1, d * growth_rate))
    w_new = interp(w, x0 - sk / (sqrt(alpha) + eps), 1 - momentum);  update = w - w_new

    Defazio & Mishchenko, "Learning-Rate-Free Learning by D-Adaptation" (2023).
    """
    dlr = d * lr
    gd = g + where(weight_decouple, 0, weight_decay) * w
    old_sq = sum(sk * sk / (sqrt(alpha) + eps))
    old_l1 = sum(abs(sk))
    alpha = alpha + gd * gd
    den = sqrt(alpha) + eps
    gsq = global_sum(gd * gd / den)
    sk = sk + dlr * gd
    sksq = sksq + global_sum(sum(sk * sk / den) - old_sq)
    gsqw = gsqw + dlr * dlr * gsq
    l1 = l1 + global_sum(sum(abs(sk)) - old_l1)
    d_hat = (sksq - gsqw) / l1
    d_new = max(d, where(growth_rate, min(d_hat, d * growth_rate), d_hat))
    w1 = w * (1 - where(weight_decouple, lr * weight_decay, 0))
    return w - w1 + (1 - momentum) * (w1 - (x0 - sk / den)), alpha, sk, x0, d_new, sksq, gsqw, l1
'''

DADAPT_ADAN = '''
def dadapt_adan(w, g, m, md, v, s, prev, d: d0, gsqw, t, lr=1.0, beta1=0.98, beta2=0.92,
                beta3=0.99, weight_decay=0.0, weight_decouple=0.0, d0=1e-06, growth_rate=0.0,
                eps=1e-08):
    """D-Adaptation Adan, as pytorch_optimizer.DAdaptAdan.

    dlr = d * lr;  diff = g - g_prev (0 at t = 1)
    m = beta1 m + dlr (1 - beta1) g;  md = beta2 md + dlr (1 - beta2) diff
    q = (g + beta2 diff)^2;  v = beta3 v + (1 - beta3) q^2   (the package squares q again)
    den = sqrt(v) + eps;  s = beta3 s + dlr (1 - beta3) g
    gsqw = beta3 gsqw + dlr^2 (1 - beta3) sum(g^2 / den)
    d = max(d, min((sum(s^2 / den) / (1 - beta3) - gsqw) / ||s||_1, d * growth_rate))
    w_new = w (1 - dlr wd) - (m + beta2 md) / den  (decoupled), or
            (w - (m + beta2 md) / den) / (1 + dlr wd)  (Adan's proximal decay);  update = w - w_new

    Defazio & Mishchenko, "Learning-Rate-Free Learning by D-Adaptation" (2023); Xie et al.,
    "Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep Models" (2024).
    """
    dlr = d * lr
    diff = where(t - 1, g - prev, 0)
    m = beta1 * m + dlr * (1 - beta1) * g
    md = beta2 * md + dlr * (1 - beta2) * diff
    q = (beta2 * diff + g) * (beta2 * diff + g)
    v = beta3 * v + (1 - beta3) * (q * q)
    den = sqrt(v) + eps
    gsq = global_sum(g * g / den)
    s = beta3 * s + dlr * (1 - beta3) * g
    sksq = global_sum(s * s / den)
    gsqw = beta3 * gsqw + dlr * dlr * (1 - beta3) * gsq
    d_hat = (sksq / (1 - beta3) - gsqw) / global_sum(abs(s))
    d_new = max(d, where(growth_rate, min(d_hat, d * growth_rate), d_hat))
    step = m / den + beta2 * md / den
    w2 = where(weight_decouple, w * (1 - dlr * weight_decay) - step,
               (w - step) / (1 + dlr * weight_decay))
    return w - w2, m, md, v, s, g, d_new, gsqw
'''

DADAPT_LION = '''
def dadapt_lion(w, g, m, s, d: d0, nw, lr=1.0, beta1=0.9, beta2=0.999, d0=1e-06,
                weight_decay=0.0, weight_decouple=0.0):
    """D-Adaptation Lion, as pytorch_optimizer.DAdaptLion.

    dlr = d * lr;  g = g + weight_decay * w (L2; decoupled: w decays by dlr * weight_decay)
    u = sign(interp(g, m, beta1));  m = beta2 m + (1 - beta2) dlr g
    acc = dlr <u, s>_glob;  s = sqrt(beta2) s + (1 - sqrt(beta2)) dlr u
    nw = interp(acc, nw, sqrt(beta2));  d = max(d, nw / ((1 - sqrt(beta2)) ||s||_1,glob))
    update = dlr * u

    Defazio & Mishchenko, "Learning-Rate-Free Learning by D-Adaptation" (2023), applied to
    Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms", 2023).
    """
    dlr = d * lr
    gd = g + where(weight_decouple, 0, weight_decay) * w
    u = sign(interp(gd, m, beta1))
    m = beta2 * m + (1 - beta2) * dlr * gd
    acc = dlr * global_dot(u, s)
    sb2 = sqrt(beta2)
    s = sb2 * s + (1 - sb2) * dlr * u
    nw = interp(acc, nw, sb2)
    d_new = max(d, nw / ((1 - sb2) * global_sum(abs(s))))
    return dlr * u + where(weight_decouple, dlr * weight_decay, 0) * w, m, s, d_new, nw
'''


def _growth(h):
    return h["growth_rate"] or float("inf")


def _dadapt_sgd_kwargs(h):
    return dict(lr=h["lr"], momentum=h["momentum"], d0=h["d0"], growth_rate=_growth(h),
                weight_decay=h["weight_decay"])


def _dadapt_sgd(params, h):
    from discover.references.step_size import DAdaptSGD64  # noqa: PLC0415

    return DAdaptSGD64(params, **_dadapt_sgd_kwargs(h))


def _dadapt_sgd_po(params, h):
    from pytorch_optimizer import DAdaptSGD  # noqa: PLC0415 - optional dependency

    return DAdaptSGD(params, **_dadapt_sgd_kwargs(h))


def _dadapt_adam(params, h):
    from pytorch_optimizer import DAdaptAdam  # noqa: PLC0415 - optional dependency

    return DAdaptAdam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), d0=h["d0"],
                      growth_rate=_growth(h), weight_decay=h["weight_decay"],
                      weight_decouple=bool(h["weight_decouple"]),
                      bias_correction=bool(h["bias_correction"]), eps=h["eps"])


def _dadapt_adagrad(params, h):
    from pytorch_optimizer import DAdaptAdaGrad  # noqa: PLC0415 - optional dependency

    return DAdaptAdaGrad(params, lr=h["lr"], momentum=h["momentum"], d0=h["d0"],
                         growth_rate=_growth(h), weight_decay=h["weight_decay"],
                         weight_decouple=bool(h["weight_decouple"]), eps=h["eps"])


def _dadapt_adan(params, h):
    from pytorch_optimizer import DAdaptAdan  # noqa: PLC0415 - optional dependency

    return DAdaptAdan(params, lr=h["lr"], betas=(h["beta1"], h["beta2"], h["beta3"]),
                      weight_decay=h["weight_decay"], weight_decouple=bool(h["weight_decouple"]),
                      d0=h["d0"], growth_rate=_growth(h), eps=h["eps"])


def _dadapt_lion(params, h):
    from pytorch_optimizer import DAdaptLion  # noqa: PLC0415 - optional dependency

    return DAdaptLion(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), d0=h["d0"],
                      weight_decay=h["weight_decay"], weight_decouple=bool(h["weight_decouple"]))



_DADAPT = "Learning-Rate-Free Learning by D-Adaptation"

ENTRIES = (
    Entry(
        name="dadapt_sgd",
        source=DADAPT_SGD,
        paper=_DADAPT,
        authors="Defazio & Mishchenko",
        year=2023,
        references=(
            Reference("discover.references.step_size.DAdaptSGD64 (float64 form)", _dadapt_sgd),
            Reference("pytorch_optimizer.DAdaptSGD", _dadapt_sgd_po, "pytorch-optimizer",
                      tolerance=1e-6,
                      tolerance_note="the package computes the first gradient norm, which "
                                     "divides every step size, in float32"),
        ),
        settings=(
            {},
            {"momentum": 0.5, "d0": 1e-3, "weight_decay": 0.01},
            {"momentum": 0.0, "growth_rate": 1.1, "d0": 0.01, "lr": 0.5},
        ),
        notes="The official algorithm (dual averaging with momentum as an interpolation "
              "towards x0 - s). L2 weight decay only (the package's default); the package's "
              "decoupled option is not covered. The reference keeps the first gradient norm in "
              "float64; pytorch_optimizer.DAdaptSGD is also checked at 1e-6.",
    ),
    Entry(
        name="dadapt_adam",
        source=DADAPT_ADAM,
        paper=_DADAPT,
        authors="Defazio & Mishchenko",
        year=2023,
        references=(Reference("pytorch_optimizer.DAdaptAdam", _dadapt_adam,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"d0": 1e-3, "weight_decay": 0.01, "beta1": 0.8, "growth_rate": 1.1},
            {"bias_correction": 1.0, "weight_decay": 0.01, "weight_decouple": 1.0,
             "beta2": 0.99, "lr": 0.5},
        ),
        notes="The official DAdaptAdam (version 3): no bias correction by default, the step "
              "already contains d * lr through m.",
    ),
    Entry(
        name="dadapt_adagrad",
        source=DADAPT_ADAGRAD,
        paper=_DADAPT,
        authors="Defazio & Mishchenko",
        year=2023,
        references=(Reference("pytorch_optimizer.DAdaptAdaGrad", _dadapt_adagrad,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"momentum": 0.5, "d0": 1e-3, "weight_decay": 0.01, "eps": 1e-8},
            {"growth_rate": 1.1, "weight_decay": 0.01, "weight_decouple": 1.0, "d0": 0.01},
        ),
        notes="As the package: the accumulator starts at 1e-6, the weighted sums are updated "
              "by their changes (not recomputed), and the decoupled decay uses lr, not d * lr.",
    ),
    Entry(
        name="dadapt_adan",
        source=DADAPT_ADAN,
        paper=_DADAPT,
        authors="Defazio & Mishchenko",
        year=2023,
        references=(Reference("pytorch_optimizer.DAdaptAdan", _dadapt_adan,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"d0": 1e-3, "weight_decay": 0.01, "growth_rate": 1.1},
            {"weight_decay": 0.01, "weight_decouple": 1.0, "beta1": 0.9, "beta3": 0.9,
             "lr": 0.5},
        ),
        notes="As the package: v accumulates the square of (g + beta2 diff)^2 (the Adan paper "
              "accumulates (g + beta2 diff)^2 itself), the first gradient difference is 0, and "
              "without weight_decouple the decay is Adan's proximal division by 1 + dlr wd.",
    ),
    Entry(
        name="dadapt_lion",
        source=DADAPT_LION,
        paper=_DADAPT,
        authors="Defazio & Mishchenko",
        year=2023,
        references=(Reference("pytorch_optimizer.DAdaptLion", _dadapt_lion,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"d0": 1e-3, "weight_decay": 0.01, "beta1": 0.8},
            {"weight_decay": 0.1, "weight_decouple": 1.0, "beta2": 0.99, "lr": 0.5},
        ),
        notes="As the package: the sign is taken of interp(g, m, beta1) where m holds "
              "dlr-scaled gradients and g does not (the official dadapt_lion scales g by dlr "
              "there too), so the two differ while d is small.",
    ),
)
