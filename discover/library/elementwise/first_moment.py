"""Adam variants that change the first moment: diffGrad, QHAdam, AdEMAMix, simplified
AdEMAMix, Adan, AdaPNM and Grokfast-AdamW.

diffGrad damps the momentum where the gradient barely changes, QHAdam mixes the gradient into
both moments, AdEMAMix adds a slow EMA, simplified AdEMAMix an accumulated momentum, Adan a
Nesterov-style gradient-difference momentum, AdaPNM positive-negative momentum, and Grokfast
amplifies the slow part of the gradient before Adam sees it.

References: the ``pytorch_optimizer`` classes named in each entry, configured to the papers'
form where they differ; paper-form references (``discover.references.elementwise``) for QHAdam
(pytorch_optimizer keeps its step weights in float32) and simplified AdEMAMix (the package's
form differs from the authors').
"""

from __future__ import annotations

from ..base import Entry, Reference, betas, po_class

__all__ = ["ENTRIES"]

DIFFGRAD = '''
def diffgrad(w, g, m, v, gprev, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08,
             weight_decay=0.0):
    """diffGrad: Adam with the momentum damped by sigmoid(|g_prev - g|), the "friction".

    m = interp(g, m, beta1);  v = interp(g^2, v, beta2);  xi = sigmoid(|gprev - g|)  (gprev = 0)
    update = lr sqrt(1 - beta2^t) / (1 - beta1^t) * xi * m / (sqrt(v + 1e-15) + eps)
             + lr * weight_decay * w

    Dubey, Chakraborty, Roy, Mukherjee, Singh & Chaudhuri, "diffGrad: An Optimization Method
    for Convolutional Neural Networks" (IEEE TNNLS 2019).
    """
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    xi = sigmoid(abs(gprev - g))
    step = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return step * xi * m / (sqrt(v + 1e-15) + eps) + lr * weight_decay * w, m, v, g
'''

QHADAM = '''
def qhadam(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, nu1=1.0, nu2=1.0, eps=1e-08,
           weight_decay=0.0):
    """QHAdam: Adam whose moments are nu-weighted averages of the bias-corrected EMA and g.

    d = g + weight_decay * w;  m = interp(d, m, beta1);  v = interp(d^2, v, beta2)
    update = lr ((1 - nu1) d + nu1 m / (1 - beta1^t))
             / (sqrt((1 - nu2) d^2 + nu2 v / (1 - beta2^t)) + eps)

    Ma & Yarats, "Quasi-hyperbolic momentum and Adam for deep learning" (ICLR 2019).
    """
    d = g + weight_decay * w
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    num = (1 - nu1) * d + nu1 * m / (1 - beta1 ** t)
    den = sqrt((1 - nu2) * d * d + nu2 * v / (1 - beta2 ** t)) + eps
    return lr * num / den, m, v
'''

ADEMAMIX = '''
def ademamix(w, g, m1, v, m2, t, lr=0.001, beta1=0.9, beta2=0.999, beta3=0.9999, alpha=5.0,
             t_alpha_beta3=0.0, eps=1e-08, weight_decay=0.0):
    """AdEMAMix: Adam plus alpha times a slow EMA (beta3) of the gradient.

    m1 = interp(g, m1, beta1);  v = interp(g^2, v, beta2);  m2 = interp(g, m2, beta3_t)
    update = lr ((m1 / (1 - beta1^t) + alpha_t m2) / (sqrt(v / (1 - beta2^t)) + eps)
             + weight_decay w)
    With T = t_alpha_beta3 > 0, alpha_t = min(t alpha / T, alpha) and beta3_t warms up from
    beta1 to beta3 linearly in log-half-life: beta3_t = min(exp(ln b1 ln b3 / ((1 - t/T) ln b3
    + (t/T) ln b1)), beta3); T = 0 means no warm-up.

    Pagliardini, Ablin & Grangier, "The AdEMAMix Optimizer: Better, Faster, Older" (2024).
    """
    warm = max(t_alpha_beta3, 1)
    alpha_t = where(t_alpha_beta3, min(t * alpha / warm, alpha), alpha)
    l1 = log(beta1)
    l3 = log(beta3)
    beta3_t = min(exp(l1 * l3 / ((1 - t / warm) * l3 + t / warm * l1)), beta3)
    beta3_t = where(t_alpha_beta3, beta3_t, beta3)
    m1 = interp(g, m1, beta1)
    v = interp(g * g, v, beta2)
    m2 = interp(g, m2, beta3_t)
    den = sqrt(v) / sqrt(1 - beta2 ** t) + eps
    step = (m1 / (1 - beta1 ** t) + alpha_t * m2) / den
    return lr * (step + weight_decay * w), m1, v, m2
'''

SIMPLIFIED_ADEMAMIX = '''
def simplified_ademamix(w, g, m, v, t, lr=0.001, beta1=0.99, beta2=0.95, alpha=0.0,
                        beta1_warmup=0.0, min_beta1=0.9, eps=1e-08, weight_decay=0.0):
    """Simplified AdEMAMix: an accumulated (not averaged) momentum plus alpha g, over Adam's v.

    beta1_t warms up from min_beta1 to beta1 linearly in half-life h(b) = ln 0.5 / ln(b) - 1
    over beta1_warmup steps (none when 0)
    m = beta1_t m + g;  v = interp(g^2, v, beta2);  c = 1 - beta2^t
    update = lr ((alpha g + m) / (sqrt(v / c) + eps) + weight_decay w)

    Morwani et al., "Connections between Schedule-Free Optimizers, AdEMAMix, and
    Accelerated SGD Variants" (2025).
    """
    a = t / max(beta1_warmup, 1)
    life = (1 - a) * (log(0.5) / log(min_beta1 + 1e-08) - 1) + a * (log(0.5) / log(beta1 + 1e-08) - 1)
    b1 = where(beta1_warmup - t, 0.5 ** (1 / (life + 1)), beta1)
    m = b1 * m + g
    v = interp(g * g, v, beta2)
    c = sqrt(1 - beta2 ** t)
    return lr * ((alpha * g + m) / (sqrt(v) + eps * c) * c + weight_decay * w), m, v
'''

ADAN = '''
def adan(w, g, m, nu, n, gprev, t, lr=0.001, beta1=0.98, beta2=0.92, beta3=0.99, eps=1e-08,
         weight_decay=0.0, weight_decouple=0.0):
    """Adan: adaptive Nesterov momentum from the gradient and its step-to-step difference.

    diff = g - gprev (0 at t = 1);  m = interp(g, m, beta1);  nu = interp(diff, nu, beta2)
    n = interp((g + beta2 diff)^2, n, beta3);  den = sqrt(n / (1 - beta3^t)) + eps
    step = lr (m / (1 - beta1^t) + beta2 nu / (1 - beta2^t)) / den
    w_new = (w - step) / (1 + lr wd)  (the paper's proximal decay), or w (1 - lr wd) - step

    Xie, Zhou, Li, Lin & Yan, "Adan: Adaptive Nesterov Momentum Algorithm for Faster
    Optimizing Deep Models" (2022). The betas are 1 - the paper's (0.02, 0.08, 0.01).
    """
    diff = where(t - 1, g - gprev, 0)
    m = interp(g, m, beta1)
    nu = interp(diff, nu, beta2)
    u = g + beta2 * diff
    n = interp(u * u, n, beta3)
    den = sqrt(n) / sqrt(1 - beta3 ** t) + eps
    step = lr / (1 - beta1 ** t) * m / den + lr * beta2 / (1 - beta2 ** t) * nu / den
    c = lr * weight_decay
    return where(weight_decouple, c * w + step, (step + c * w) / (1 + c)), m, nu, n, g
'''

ADAPNM = '''
def adapnm(w, g, last, other, v, vmax, t, lr=0.001, beta1=0.9, beta2=0.999, beta3=1.0,
           eps=1e-08, weight_decay=0.0, ams_bound=1.0):
    """AdaPNM: positive-negative momentum over Adam's (AMSGrad's) denominator.

    pos = interp(g, other, beta1^2)  (the buffer not updated at the previous step)
    v = interp(g^2, v, beta2);  vmax = max(vmax, v)  (used when ams_bound)
    pn = ((1 + beta3) pos - beta3 last) / sqrt((1 + beta3)^2 + beta3^2)
    update = lr / (1 - beta1^t) * pn / ((sqrt(vmax + 1e-15) + eps) / sqrt(1 - beta2^t))
             + lr * weight_decay * w;   the buffers swap: (last, other) <- (pos, last)

    Xie, Yuan, Zhu & Sugiyama, "Positive-Negative Momentum: Manipulating Stochastic Gradient
    Noise to Improve Generalization" (ICML 2021).
    """
    pos = interp(g, other, beta1 ** 2)
    v = interp(g * g, v, beta2)
    vmax = max(vmax, v)
    den = (sqrt(where(ams_bound, vmax, v) + 1e-15) + eps) / sqrt(1 - beta2 ** t)
    pn = ((1 + beta3) * pos - beta3 * last) / sqrt((1 + beta3) ** 2 + beta3 ** 2)
    return lr / (1 - beta1 ** t) * pn / den + lr * weight_decay * w, pos, last, v, vmax
'''

GROKFAST_ADAMW = '''
def grokfast_adamw(w, g, m, v, ema, t, lr=0.0001, beta1=0.9, beta2=0.99, grokfast_alpha=0.98,
                   grokfast_lamb=2.0, grokfast_after_step=0.0, eps=1e-08, weight_decay=0.0):
    """Grokfast-EMA AdamW: AdamW on g + lamb * EMA(g), which amplifies slow gradient components.

    ema starts at the first gradient; after grokfast_after_step steps:
    ema = interp(g, ema, grokfast_alpha);  d = g + grokfast_lamb * ema  (else d = g)
    m = interp(d, m, beta1);  v = interp(d^2, v, beta2);  lr' = lr / (1 + grokfast_lamb)
    update = lr' / (1 - beta1^t) * m / max(sqrt(v / (1 - beta2^t)), eps) + lr' weight_decay w

    Lee, Kang, Kim & Lee, "Grokfast: Accelerated Grokking by Amplifying Slow Gradients" (2024).
    """
    lr1 = lr / (1 + grokfast_lamb)
    ema = where(t - 1, ema, g)
    on = t - grokfast_after_step
    ema = where(on, interp(g, ema, grokfast_alpha), ema)
    d = where(on, g + grokfast_lamb * ema, g)
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    den = max(sqrt(v) / sqrt(1 - beta2 ** t), eps)
    return lr1 / (1 - beta1 ** t) * m / den + lr1 * weight_decay * w, m, v, ema
'''


def _diffgrad(params, h):
    return po_class("DiffGrad")(params, lr=h["lr"], betas=betas(h), eps=h["eps"],
                                weight_decay=h["weight_decay"])


def _qhadam(params, h):
    from discover.references.elementwise import QHAdamPaper  # noqa: PLC0415

    return QHAdamPaper(params, lr=h["lr"], betas=betas(h), nus=(h["nu1"], h["nu2"]),
                       eps=h["eps"], weight_decay=h["weight_decay"])


def _qhadam_po(params, h):
    return po_class("QHAdam")(params, lr=h["lr"], betas=betas(h), nus=(h["nu1"], h["nu2"]),
                              eps=h["eps"], weight_decay=h["weight_decay"])


def _ademamix(params, h):
    t_warm = h["t_alpha_beta3"]
    return po_class("AdEMAMix")(params, lr=h["lr"], betas=betas(h, "beta1", "beta2", "beta3"),
                                alpha=h["alpha"], t_alpha_beta3=t_warm if t_warm > 0 else None,
                                eps=h["eps"], weight_decay=h["weight_decay"], weight_decouple=True)


def _simplified_ademamix(params, h):
    from discover.references.elementwise import SimplifiedAdEMAMix  # noqa: PLC0415

    warm = h["beta1_warmup"]
    return SimplifiedAdEMAMix(params, lr=h["lr"], betas=betas(h), alpha=h["alpha"],
                              beta1_warmup=int(warm) if warm > 0 else None,
                              min_beta1=h["min_beta1"], eps=h["eps"],
                              weight_decay=h["weight_decay"])


def _adan(params, h):
    return po_class("Adan")(params, lr=h["lr"], betas=betas(h, "beta1", "beta2", "beta3"),
                            eps=h["eps"], weight_decay=h["weight_decay"],
                            weight_decouple=bool(h["weight_decouple"]))


def _adapnm(params, h):
    return po_class("AdaPNM")(params, lr=h["lr"], betas=betas(h, "beta1", "beta2", "beta3"),
                              eps=h["eps"], weight_decay=h["weight_decay"],
                              ams_bound=bool(h["ams_bound"]))


def _grokfast_adamw(params, h):
    return po_class("GrokFastAdamW")(params, lr=h["lr"], betas=betas(h),
                                     grokfast_alpha=h["grokfast_alpha"],
                                     grokfast_lamb=h["grokfast_lamb"],
                                     grokfast_after_step=int(h["grokfast_after_step"]),
                                     eps=h["eps"], weight_decay=h["weight_decay"])


_ADAM_LIKE = (
    {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.01},
    {"lr": 0.003, "beta1": 0.95, "beta2": 0.9, "eps": 1e-12},
)
_PNM = ("Positive-Negative Momentum: Manipulating Stochastic Gradient Noise to Improve "
        "Generalization")

ENTRIES = (
    Entry(
        name="diffgrad",
        source=DIFFGRAD,
        paper="diffGrad: An Optimization Method for Convolutional Neural Networks",
        authors="Dubey, Chakraborty, Roy, Mukherjee, Singh & Chaudhuri",
        year=2019,
        references=(
            Reference("pytorch_optimizer.DiffGrad", _diffgrad, requires="pytorch-optimizer"),
        ),
        settings=({}, *_ADAM_LIKE),
        notes="Adam's efficient form (eps added to the raw sqrt(v)); sqrt(v + 1e-15) as "
              "pytorch_optimizer (the paper: sqrt(v)). Decoupled weight decay, "
              "pytorch_optimizer's default.",
    ),
    Entry(
        name="qhadam",
        source=QHADAM,
        paper="Quasi-hyperbolic momentum and Adam for deep learning",
        authors="Ma & Yarats",
        year=2019,
        references=(
            Reference("discover.references.elementwise.QHAdamPaper", _qhadam),
            Reference("pytorch_optimizer.QHAdam", _qhadam_po, "pytorch-optimizer", tolerance=1e-6,
                      tolerance_note="pytorch_optimizer.QHAdam keeps the running weights 1 / "
                                     "sum beta^i of its bias-corrected EMAs in float32 (about "
                                     "1e-8 relative per step)"),
        ),
        settings=({}, {"lr": 0.01, "beta1": 0.995, "nu1": 0.7, "weight_decay": 0.01},
                  {"lr": 0.003, "beta1": 0.95, "beta2": 0.9, "nu1": 0.5, "nu2": 0.3,
                   "eps": 1e-12}),
        notes="Defaults nu1 = nu2 = 1 (Adam), pytorch_optimizer's; the paper recommends "
              "nu1 = 0.7, beta1 = 0.995 (the second setting). L2 weight decay.",
    ),
    Entry(
        name="ademamix",
        source=ADEMAMIX,
        paper="The AdEMAMix Optimizer: Better, Faster, Older",
        authors="Pagliardini, Ablin & Grangier",
        year=2024,
        references=(
            Reference("pytorch_optimizer.AdEMAMix(weight_decouple=True)", _ademamix,
                      requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "beta3": 0.999, "alpha": 8.0,
                       "weight_decay": 0.1},
                  {"lr": 0.003, "alpha": 5.0, "t_alpha_beta3": 40.0, "eps": 1e-12}),
        reference_overrides=("weight_decouple",),
        notes="The paper's decoupled weight decay (AdamW-style); pytorch_optimizer defaults "
              "to L2 and is verified with weight_decouple=True. t_alpha_beta3 = 0 stands for "
              "None (no warm-up of alpha and beta3).",
    ),
    Entry(
        # alpha weighs g against the momentum (2.0 and more in the paper); beta1_warmup is a
        # number of steps, not a decay rate
        bounds=(("alpha", (0.0, None)), ("beta1_warmup", (0.0, None))),
        name="simplified_ademamix",
        source=SIMPLIFIED_ADEMAMIX,
        paper="Connections between Schedule-Free Optimizers, AdEMAMix, and Accelerated SGD "
              "Variants",
        authors="Morwani et al.",
        year=2025,
        references=(
            Reference("discover.references.elementwise.SimplifiedAdEMAMix", _simplified_ademamix),
        ),
        settings=({}, {"lr": 0.0003, "beta1": 0.9, "beta2": 0.99, "alpha": 2.0,
                       "weight_decay": 0.1},
                  {"lr": 0.0001, "alpha": 5.0, "beta1_warmup": 30.0, "min_beta1": 0.8,
                   "eps": 1e-12}),
        notes="The authors' code (DepenM/Simplified-AdEMAMix): m accumulates g without "
              "(1 - beta1), and the step is multiplied by sqrt(1 - beta2^t). "
              "pytorch_optimizer.SimplifiedAdEMAMix differs in both: it takes an EMA and "
              "divides by sqrt(1 - beta2^t) (and its foreach path rounds that factor to "
              "float32), so it is not a reference for this rule.",
    ),
    Entry(
        name="adan",
        source=ADAN,
        paper="Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep Models",
        authors="Xie, Zhou, Li, Lin & Yan",
        year=2022,
        references=(Reference("pytorch_optimizer.Adan", _adan, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "beta1": 0.9, "beta2": 0.9, "beta3": 0.999,
                       "weight_decay": 0.02},
                  {"lr": 0.003, "weight_decay": 0.05, "weight_decouple": 1.0, "eps": 1e-12}),
        notes="weight_decouple = 0 is the paper's proximal decay (w - step) / (1 + lr wd). "
              "pytorch_optimizer's optional global gradient-norm clipping (max_grad_norm, "
              "off by default) is not part of the program.",
    ),
    Entry(
        name="adapnm",
        source=ADAPNM,
        paper=_PNM,
        authors="Xie, Yuan, Zhu & Sugiyama",
        year=2021,
        references=(Reference("pytorch_optimizer.AdaPNM", _adapnm, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "beta3": 0.5,
                       "weight_decay": 0.1},
                  {"lr": 0.003, "beta2": 0.9, "eps": 1e-12, "ams_bound": 0.0}),
        notes="pytorch_optimizer alternates the buffers by the parity of t; the program swaps "
              "them every step. The bias correction of the momentum is 1 - beta1^t (not "
              "beta1^2), and sqrt(v + 1e-15), as pytorch_optimizer. Decoupled weight decay.",
    ),
    Entry(
        name="grokfast_adamw",
        source=GROKFAST_ADAMW,
        paper="Grokfast: Accelerated Grokking by Amplifying Slow Gradients",
        authors="Lee, Kang, Kim & Lee",
        year=2024,
        references=(
            Reference("pytorch_optimizer.GrokFastAdamW", _grokfast_adamw,
                      requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.001, "beta1": 0.8, "grokfast_alpha": 0.9, "grokfast_lamb": 5.0,
                       "weight_decay": 0.1},
                  {"lr": 0.0003, "grokfast_lamb": 1.0, "grokfast_after_step": 20.0,
                   "eps": 1e-6}),
        reference_overrides=("lr",),
        notes="pytorch_optimizer divides lr by 1 + grokfast_lamb in its constructor "
              "(normalize_lr), so its stored lr differs from the argument; the program "
              "applies the same division. The denominator is max(sqrt(v_hat), eps), not "
              "sqrt(v_hat) + eps. Decoupled weight decay.",
    ),
)
