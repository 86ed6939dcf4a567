"""Adam with a bounded per-coordinate step size: AdaBound, AMSBound and AdaMod.

All three clip Adam's per-coordinate step ``eta = lr sqrt(1 - beta2^t) / (1 - beta1^t) /
(sqrt(v) + eps)`` (the efficient form of Adam, eps added to the raw ``sqrt(v)``) before it
multiplies the first moment: AdaBound and AMSBound into bounds that close in on a final SGD
learning rate, AdaMod by a moving average of its own past values.

References: ``pytorch_optimizer.AdaBound`` and ``pytorch_optimizer.AdaMod``. AdaBound adds
``1e-15`` under the square root (``sqrt(v + 1e-15)``, a guard for coordinates whose first
gradients are tiny); the AdaBound/AMSBound programs keep it, so they differ from the paper's
``sqrt(v)`` by ``5e-16 / v`` relative (measurably, about 1e-10, only at step 1 for tiny gradients).
"""

from __future__ import annotations

from ..base import Entry, Reference

__all__ = ["ENTRIES"]

ADABOUND = '''
def adabound(w, g, m, v, t, lr=0.001, final_lr=0.1, beta1=0.9, beta2=0.999, gamma=0.001,
             eps=1e-08, weight_decay=0.0):
    """AdaBound: Adam whose per-coordinate step is clipped into bounds that converge to SGD.

    d = g + weight_decay * w;  m = interp(d, m, beta1);  v = interp(d^2, v, beta2)
    eta = clip(lr sqrt(1 - beta2^t) / (1 - beta1^t) / (sqrt(v + 1e-15) + eps), lower_t, upper_t)
    lower_t = final_lr (1 - 1 / (gamma t + 1));  upper_t = final_lr (1 + 1 / (gamma t))
    update = eta * m

    Luo, Xiong, Liu & Sun, "Adaptive Gradient Methods with Dynamic Bound of Learning Rate"
    (ICLR 2019).
    """
    d = g + weight_decay * w
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    step = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    lower = final_lr * (1 - 1 / (gamma * t + 1))
    upper = final_lr * (1 + 1 / (gamma * t))
    eta = clamp(step / (sqrt(v + 1e-15) + eps), lower, upper)
    return eta * m, m, v
'''

AMSBOUND = '''
def amsbound(w, g, m, v, vmax, t, lr=0.001, final_lr=0.1, beta1=0.9, beta2=0.999, gamma=0.001,
             eps=1e-08, weight_decay=0.0):
    """AMSBound: AdaBound with AMSGrad's running maximum of v in the denominator.

    d = g + weight_decay * w;  m = interp(d, m, beta1);  v = interp(d^2, v, beta2)
    vmax = max(vmax, v)
    eta = clip(lr sqrt(1 - beta2^t) / (1 - beta1^t) / (sqrt(vmax + 1e-15) + eps),
               lower_t, upper_t)
    lower_t = final_lr (1 - 1 / (gamma t + 1));  upper_t = final_lr (1 + 1 / (gamma t))
    update = eta * m

    Luo, Xiong, Liu & Sun, "Adaptive Gradient Methods with Dynamic Bound of Learning Rate"
    (ICLR 2019).
    """
    d = g + weight_decay * w
    m = interp(d, m, beta1)
    v = interp(d * d, v, beta2)
    vmax = max(vmax, v)
    step = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    lower = final_lr * (1 - 1 / (gamma * t + 1))
    upper = final_lr * (1 + 1 / (gamma * t))
    eta = clamp(step / (sqrt(vmax + 1e-15) + eps), lower, upper)
    return eta * m, m, v, vmax
'''

ADAMOD = '''
def adamod(w, g, m, v, s, t, lr=0.001, beta1=0.9, beta2=0.999, beta3=0.9999, eps=1e-08,
           weight_decay=0.0):
    """AdaMod: Adam whose per-coordinate step is capped by its own exponential moving average.

    m = interp(g, m, beta1);  v = interp(g^2, v, beta2)
    eta = lr sqrt(1 - beta2^t) / (1 - beta1^t) / (sqrt(v) + eps);  s = interp(eta, s, beta3)
    update = min(eta, s) * m + lr * weight_decay * w   (s starts at 0: the first steps are short)

    Ding, Ren, Luo & Sun, "An Adaptive and Momental Bound Method for Stochastic Learning" (2019).
    """
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    step = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    eta = step / (sqrt(v) + eps)
    s = interp(eta, s, beta3)
    return min(eta, s) * m + lr * weight_decay * w, m, v, s
'''


def _adabound(params, h, ams_bound=False):
    from pytorch_optimizer import AdaBound  # noqa: PLC0415 - optional dependency

    return AdaBound(params, lr=h["lr"], final_lr=h["final_lr"], betas=(h["beta1"], h["beta2"]),
                    gamma=h["gamma"], eps=h["eps"], weight_decay=h["weight_decay"],
                    weight_decouple=False, ams_bound=ams_bound)


def _amsbound(params, h):
    return _adabound(params, h, ams_bound=True)


def _adamod(params, h):
    from pytorch_optimizer import AdaMod  # noqa: PLC0415 - optional dependency

    return AdaMod(params, lr=h["lr"], betas=(h["beta1"], h["beta2"], h["beta3"]), eps=h["eps"],
                  weight_decay=h["weight_decay"])


_BOUND_SETTINGS = (
    {},
    {"lr": 0.01, "final_lr": 0.05, "beta1": 0.8, "beta2": 0.99, "gamma": 0.01,
     "weight_decay": 0.01},
    {"lr": 0.003, "final_lr": 0.3, "beta2": 0.9, "gamma": 0.1, "eps": 1e-12},
)

_BOUND_NOTES = ("L2 weight decay (added to the gradient), as the official Luolc/AdaBound code; "
                "pytorch_optimizer defaults to decoupled decay (weight_decouple=True) and is "
                "verified with weight_decouple=False. final_lr is the value for the initial lr "
                "(the official code rescales it when a schedule changes lr; with a constant lr "
                "that is a no-op). sqrt(v + 1e-15) as pytorch_optimizer (the paper: sqrt(v)).")

ENTRIES = (
    Entry(
        name="adabound",
        source=ADABOUND,
        paper="Adaptive Gradient Methods with Dynamic Bound of Learning Rate",
        authors="Luo, Xiong, Liu & Sun",
        year=2019,
        references=(
            Reference("pytorch_optimizer.AdaBound(weight_decouple=False)", _adabound,
                      requires="pytorch-optimizer"),
        ),
        settings=_BOUND_SETTINGS,
        reference_overrides=("weight_decouple",),
        notes=_BOUND_NOTES,
    ),
    Entry(
        name="amsbound",
        source=AMSBOUND,
        paper="Adaptive Gradient Methods with Dynamic Bound of Learning Rate",
        authors="Luo, Xiong, Liu & Sun",
        year=2019,
        references=(
            Reference("pytorch_optimizer.AdaBound(ams_bound=True, weight_decouple=False)",
                      _amsbound, requires="pytorch-optimizer"),
        ),
        settings=_BOUND_SETTINGS,
        reference_overrides=("weight_decouple", "ams_bound"),
        notes=_BOUND_NOTES,
    ),
    Entry(
        name="adamod",
        source=ADAMOD,
        paper="An Adaptive and Momental Bound Method for Stochastic Learning",
        authors="Ding, Ren, Luo & Sun",
        year=2019,
        references=(
            Reference("pytorch_optimizer.AdaMod(betas=(0.9, 0.999, 0.9999))", _adamod,
                      requires="pytorch-optimizer"),
        ),
        settings=(
            {},
            {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "beta3": 0.999, "weight_decay": 0.01},
            {"lr": 0.003, "beta2": 0.9, "beta3": 0.99, "eps": 1e-12},
        ),
        reference_overrides=("betas",),
        notes="The paper's defaults (beta2 = 0.999); pytorch_optimizer.AdaMod defaults to "
              "betas=(0.9, 0.99, 0.9999) and is verified with the paper's. Weight decay is "
              "decoupled (lr * weight_decay * w), as pytorch_optimizer's default.",
    ),
)
