"""Layer-wise (per-tensor or per-neuron) scales: NovoGrad, SGD-SaI, Fromage and Nero.

Each rule scales a tensor's step by a per-tensor (or per-output-unit) statistic; state that only
ever holds such a statistic (NovoGrad's ``v``, SGD-SaI's g-SNR, Fromage's bound) is stored at its
reduced shape.
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

NOVOGRAD = '''
def novograd(w, g, m, v, t, lr=0.001, beta1=0.95, beta2=0.98, weight_decay=0.0,
             weight_decouple=0.0, grad_averaging=0.0, eps=1e-08):
    """NovoGrad: a per-tensor second moment of the gradient norm, as pytorch_optimizer.NovoGrad.

    v = ||g||^2 at t = 1, then interp(||g||^2, v, beta2)          (one number per tensor)
    d = g / (sqrt(v) + eps) + weight_decay * w   (L2 form; decoupled: w decays by lr * wd)
    m = d at t = 1, then beta1 * m + (1 - beta1 if grad_averaging else 1) * d
    update = lr * m

    Ginsburg et al., "Stochastic Gradient Methods with Layer-wise Adaptive Moments for
    Training of Deep Networks" (2019).
    """
    s = sum(g * g)
    v = where(t - 1, interp(s, v, beta2), s)
    d = g / (sqrt(v) + eps) + where(weight_decouple, 0, weight_decay) * w
    m = where(t - 1, beta1 * m + where(grad_averaging, 1 - beta1, 1) * d, d)
    return lr * m + where(weight_decouple, lr * weight_decay, 0) * w, m, v
'''

SGD_SAI = '''
def sgd_sai(w, g, b, gsnr, t, lr=0.01, momentum=0.9, weight_decay=0.01, eps=1e-08):
    """SGD-SaI: SGD with momentum, each tensor's step scaled by its g-SNR at the first step.

    at t = 1: gsnr = ||g|| / (std(g) + eps), std unbiased, for tensors with 2 or more dims
              and more than one row; gsnr = ||g|| where std is 0 or not taken
    b = interp(g, b, momentum);  update = lr * weight_decay * w + lr * gsnr * b

    Xu et al., "No More Adam: Learning Rate Scaling at Initialization is All You Need" (2024).
    """
    n = numel(g)
    std = sqrt(sum(square(g - mean(g))) / (n - 1))
    std = where(ndim(g) - 1, where(numel(unit_sum(g)) - 1, std, 0), 0)
    gn = norm(g)
    gsnr = where(t - 1, gsnr, where(std, gn / (std + eps), gn))
    b = interp(g, b, momentum)
    return lr * weight_decay * w + lr * gsnr * b, b, gsnr
'''

FROMAGE = '''
def fromage(w, g, wmax, t, lr=0.01, p_bound=0.0):
    """Fromage: a step of relative size lr in each tensor, then a shrink by sqrt(1 + lr^2).

    w_new = (w - lr * ||w|| / ||g|| * g) / sqrt(1 + lr^2)   (ratio 1 at zero norms)
    with p_bound > 0, ||w_new|| is capped at p_bound * ||w_1|| (w_1: the weights at t = 1)
    update = w - w_new

    Bernstein et al., "On the distance between two neural networks and the stability of
    learning" (2020).
    """
    wn = norm(w)
    gn = norm(g)
    ratio = where(wn, where(gn, wn / gn, 1), 1)
    wmax = where(t - 1, wmax, p_bound * wn)
    w1 = (w - lr * (g * ratio)) / sqrt(1 + lr * lr)
    n1 = norm(w1)
    w2 = where(p_bound, where(n1 - wmax, w1 * wmax / n1, w1), w1)
    return w - w2, wmax
'''

NERO = '''
def nero(w, g, v, scale, t, lr=0.01, beta=0.999, constraints=1.0, eps=1e-08):
    """Nero: per-neuron normalised steps on weights kept centred and of unit norm per neuron.

    per output unit (row / filter; every element of a vector is its own unit):
    proj(x) = (x - mean_unit(x)) / (||x - mean_unit(x)||_unit + eps), for tensors with 2 or
    more dims when constraints is on (identity otherwise)
    at t = 1: w = proj(w) (the package constrains the weights before the first step) and
              scale = mean over units of ||w||_unit (0.01 if that is 0)
    v = interp(||g||_unit^2, v, beta)
    w_new = proj(w - lr * scale * g / (sqrt(v / (1 - beta^t)) + eps));  update = w - w_new

    Liu et al., "Learning by Turning: Neural Architecture Aware Optimisation" (2021).
    """
    on = where(constraints, ndim(w) - 1, 0)
    k = numel(w) / numel(unit_sum(w))
    c = w - unit_sum(w) / k
    w0 = where(t - 1, w, where(on, c / (sqrt(unit_sum(c * c)) + eps), w))
    s0 = mean(sqrt(unit_sum(w0 * w0)))
    scale = where(t - 1, scale, where(s0, s0, 0.01))
    gn = unit_sum(g * g)
    v = interp(gn, v, beta)
    w1 = w0 - lr * scale * (g / (sqrt(v / (1 - beta ** t)) + eps))
    c1 = w1 - unit_sum(w1) / k
    w2 = where(on, c1 / (sqrt(unit_sum(c1 * c1)) + eps), w1)
    return w - w2, v, scale
'''


def _novograd(params, h):
    from pytorch_optimizer import NovoGrad  # noqa: PLC0415

    return NovoGrad(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]),
                    weight_decay=h["weight_decay"], weight_decouple=bool(h["weight_decouple"]),
                    grad_averaging=bool(h["grad_averaging"]), eps=h["eps"])


def _sgd_sai(params, h):
    from pytorch_optimizer import SGDSaI  # noqa: PLC0415

    return SGDSaI(params, lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"],
                  eps=h["eps"])


def _fromage(params, h):
    from pytorch_optimizer import Fromage  # noqa: PLC0415

    return Fromage(params, lr=h["lr"], p_bound=h["p_bound"] or None)


def _nero(params, h):
    from pytorch_optimizer import Nero  # noqa: PLC0415

    return Nero(params, lr=h["lr"], beta=h["beta"], constraints=bool(h["constraints"]),
                eps=h["eps"])



ENTRIES = (
    Entry(
        name="novograd",
        source=NOVOGRAD,
        paper="Stochastic Gradient Methods with Layer-wise Adaptive Moments for Training of "
              "Deep Networks",
        authors="Ginsburg et al.",
        year=2019,
        references=(Reference("pytorch_optimizer.NovoGrad", _novograd,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.9, "beta2": 0.95, "weight_decay": 0.01},
            {"lr": 0.005, "weight_decay": 0.05, "weight_decouple": 1.0, "grad_averaging": 1.0,
             "eps": 1e-6},
        ),
        notes="The paper's form (grad_averaging off, L2 decay added after the normalisation): "
              "v starts at ||g_1||^2 and m at the first normalised gradient. grad_averaging "
              "and decoupled weight decay are the package's options.",
    ),
    Entry(
        name="sgd_sai",
        source=SGD_SAI,
        paper="No More Adam: Learning Rate Scaling at Initialization is All You Need",
        authors="Xu et al.",
        year=2024,
        references=(Reference("pytorch_optimizer.SGDSaI", _sgd_sai,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.001, "momentum": 0.8, "weight_decay": 0.1},
            {"lr": 0.003, "momentum": 0.0, "weight_decay": 0.0, "eps": 1e-3},
        ),
        notes="As the paper and the package: the g-SNR is computed once, from the first "
              "gradient, and the weight decay is decoupled. As the package, vectors (and "
              "tensors with one row) use ||g|| itself as their scale (no std).",
    ),
    Entry(
        name="fromage",
        source=FROMAGE,
        paper="On the distance between two neural networks and the stability of learning",
        authors="Bernstein et al.",
        year=2020,
        references=(Reference("pytorch_optimizer.Fromage", _fromage,
                              requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.05},
            {"lr": 0.1, "p_bound": 1.05},
        ),
        notes="p_bound = 0 means no bound (the package's None). The weight is replaced by "
              "(w - lr ||w||/||g|| g) / sqrt(1 + lr^2), so the update is w minus that.",
    ),
    Entry(
        name="nero",
        source=NERO,
        paper="Learning by Turning: Neural Architecture Aware Optimisation",
        authors="Liu et al.",
        year=2021,
        references=(Reference("pytorch_optimizer.Nero", _nero, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.05, "beta": 0.99},
            {"lr": 0.02, "constraints": 0.0, "eps": 1e-6},
        ),
        notes="As the package, the constraint (centre and normalise each neuron) is applied to "
              "the initial weights before the first step, and after every step; vectors are "
              "not constrained and each of their elements is its own neuron.",
    ),
)
