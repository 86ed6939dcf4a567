"""Rules whose change is in the weight decay or the weight averaging: AdamC (weight decay
corrected for the learning-rate schedule on normalised layers) and SRMM (stochastic
regularized majorization-minimization: moving averages of gradients and weights).
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

ADAMC = '''
def adamc(w, g, m, v, vmax, t, lr=0.001, beta1=0.9, beta2=0.999, weight_decay=0.0,
          max_lr=0.001, normalized=0.0, ams_bound=0.0, eps=1e-08):
    """AdamC: AdamW whose decay on normalised layers is scaled by lr / max_lr.

    m = interp(g, m, beta1);  v = beta2 v + (1 - beta2) g^2 (running max with ams_bound)
    wd_lr = lr^2 / max_lr if normalized else lr   (max_lr: the peak of the lr schedule)
    update = wd_lr * weight_decay * w
           + lr * m / (1 - beta1^t) / ((sqrt(v + 1e-15) + eps) / sqrt(1 - beta2^t))

    Defazio, "Why Gradients Rapidly Increase Near the End of Training" (2025).
    """
    m = interp(g, m, beta1)
    v = beta2 * v + (1 - beta2) * (g * g)
    vmax = where(ams_bound, max(vmax, v), vmax)
    den = (sqrt(where(ams_bound, vmax, v) + 1e-15) + eps) / sqrt(1 - beta2 ** t)
    wd_lr = where(normalized, lr * lr / max_lr, lr)
    return wd_lr * weight_decay * w + lr * (m / (1 - beta1 ** t)) / den, m, v, vmax
'''

SRMM = '''
def srmm(w, g, mg, mw, t, lr=0.01, beta=0.5, memory_length=100.0):
    """SRMM: the weights are a moving average of past weights minus lr times a moving average
    of past gradients, with averaging weights that restart every memory_length steps.

    a_t = ((t mod memory_length) + 1)^(-beta)   (a_t = 1 with memory_length = 0: no memory)
    mg = interp(mg, g, a_t);  mw = interp(mw, w, a_t) - lr * mg;  w_new = mw;  update = w - mw

    Lyu, "Stochastic regularized majorization-minimization with weakly convex and
    multi-convex surrogates" (2022).
    """
    a = (where(memory_length, fmod(t, memory_length), 0) + 1) ** (0 - beta)
    mg = interp(mg, g, a)
    mw = interp(mw, w, a) - lr * mg
    return w - mw, mg, mw
'''


def _adamc(params, h):
    from pytorch_optimizer import AdamC  # noqa: PLC0415 - optional dependency

    # constructed at the schedule's peak (max_lr), then stepped at lr, as a scheduler would
    opt = AdamC(params, lr=h["max_lr"], betas=(h["beta1"], h["beta2"]),
                weight_decay=h["weight_decay"], ams_bound=bool(h["ams_bound"]), eps=h["eps"])
    for group in opt.param_groups:
        group["lr"] = h["lr"]
        group["normalized"] = bool(h["normalized"])
    return opt


def _srmm(params, h):
    from pytorch_optimizer import SRMM  # noqa: PLC0415 - optional dependency

    return SRMM(params, lr=h["lr"], beta=h["beta"],
                memory_length=int(h["memory_length"]) or None)


ENTRIES = (
    Entry(
        name="adamc",
        source=ADAMC,
        paper="Why Gradients Rapidly Increase Near the End of Training",
        authors="Defazio",
        year=2025,
        references=(Reference("pytorch_optimizer.AdamC", _adamc, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.0005, "max_lr": 0.002, "normalized": 1.0, "weight_decay": 0.1},
            {"lr": 0.003, "max_lr": 0.003, "weight_decay": 0.05, "ams_bound": 1.0,
             "beta2": 0.99},
        ),
        notes="A program's lr is constant, so the schedule's peak is the hyperparameter "
              "max_lr (the package takes it from the constructor's lr; the reference is built "
              "at max_lr and then stepped at lr, as under a scheduler). normalized marks a "
              "group of normalised-layer weights (a param-group option in the package). As the "
              "package, 1e-15 is added to v under the square root.",
    ),
    Entry(
        name="srmm",
        source=SRMM,
        paper="Stochastic regularized majorization-minimization with weakly convex and "
              "multi-convex surrogates",
        authors="Lyu",
        year=2022,
        references=(Reference("pytorch_optimizer.SRMM", _srmm, requires="pytorch-optimizer"),),
        settings=(
            {},
            {"lr": 0.05, "beta": 0.7, "memory_length": 20.0},
            {"lr": 0.02, "beta": 0.3, "memory_length": 0.0},
        ),
        notes="As the package: the averaging weight restarts every memory_length steps "
              "(memory_length = 0 stands for the package's None, a weight of 1: plain SGD).",
    ),
)
