"""Per-coordinate step sizes from accumulated squared gradients: AdaGrad and the rules that
replace its sum or its square root -- Adadelta, RMSprop (plain, centered, momentum), AdaSmooth
and Kate.

AdaGrad divides by the root of the summed squares; RMSprop by the root of their exponential
moving average (centered: of their variance), Adadelta also rescales by the average of past
squared steps, AdaSmooth picks its averaging rate from the efficiency of the weights' path, and
Kate drops the square root for a scale-invariant step.

References: torch.optim for AdaGrad, Adadelta and RMSprop; the ``pytorch_optimizer`` classes for
AdaSmooth and Kate.
"""

from __future__ import annotations

import torch

from .. import signatures
from ..base import Entry, Reference, po_class

__all__ = ["ENTRIES"]

ADAGRAD = '''
def adagrad(w, g, acc: initial_accumulator_value, t, lr=0.01, lr_decay=0.0, weight_decay=0.0,
            initial_accumulator_value=0.0, eps=1e-10):
    """Adagrad with learning-rate decay, as torch.optim.Adagrad.

    d = g + weight_decay * w;  acc = acc + d^2  (acc starts at initial_accumulator_value)
    update = lr / (1 + (t - 1) * lr_decay) * d / (sqrt(acc) + eps)

    Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
    Optimization" (2011).
    """
    d = g + weight_decay * w
    acc = acc + d * d
    return lr / (1 + (t - 1) * lr_decay) * d / (sqrt(acc) + eps), acc
'''

ADADELTA = '''
def adadelta(w, g, v, u, lr=1.0, rho=0.9, eps=1e-06, weight_decay=0.0):
    """Adadelta, as torch.optim.Adadelta.

    d = g + weight_decay * w;  v = interp(d^2, v, rho)
    delta = sqrt(u + eps) / sqrt(v + eps) * d;  u = interp(delta^2, u, rho)
    update = lr * delta

    Zeiler, "ADADELTA: An Adaptive Learning Rate Method" (2012).
    """
    d = g + weight_decay * w
    v = interp(d * d, v, rho)
    delta = sqrt(u + eps) / sqrt(v + eps) * d
    u = interp(delta * delta, u, rho)
    return lr * delta, v, u
'''

RMSPROP = '''
def rmsprop(w, g, v, lr=0.01, alpha=0.99, eps=1e-08, weight_decay=0.0):
    """RMSprop, as torch.optim.RMSprop.

    d = g + weight_decay * w;  v = interp(d^2, v, alpha)
    update = lr * d / (sqrt(v) + eps)

    Tieleman & Hinton, "Lecture 6.5 - RMSProp" (COURSERA: Neural Networks for Machine
    Learning, 2012).
    """
    d = g + weight_decay * w
    v = interp(d * d, v, alpha)
    return lr * d / (sqrt(v) + eps), v
'''

RMSPROP_CENTERED = '''
def rmsprop_centered(w, g, v, mg, lr=0.01, alpha=0.99, eps=1e-08, weight_decay=0.0):
    """Centered RMSprop: divides by an estimate of the gradient's standard deviation.

    d = g + weight_decay * w;  v = interp(d^2, v, alpha);  mg = interp(d, mg, alpha)
    update = lr * d / (sqrt(v - mg^2) + eps)

    Graves, "Generating Sequences With Recurrent Neural Networks" (2013), eq. 38-41 (without
    its momentum).
    """
    d = g + weight_decay * w
    v = interp(d * d, v, alpha)
    mg = interp(d, mg, alpha)
    return lr * d / (sqrt(v - mg * mg) + eps), v, mg
'''

RMSPROP_MOMENTUM = '''
def rmsprop_momentum(w, g, v, buf, lr=0.01, alpha=0.99, eps=1e-08, weight_decay=0.0,
                     momentum=0.9):
    """RMSprop with momentum on the normalised step, as torch.optim.RMSprop(momentum > 0).

    d = g + weight_decay * w;  v = interp(d^2, v, alpha)
    buf = momentum * buf + d / (sqrt(v) + eps);  update = lr * buf

    Tieleman & Hinton, "Lecture 6.5 - RMSProp" (2012); momentum as in Graves (2013).
    """
    d = g + weight_decay * w
    v = interp(d * d, v, alpha)
    buf = momentum * buf + d / (sqrt(v) + eps)
    return lr * buf, v, buf
'''

KATE = '''
def kate(w, g, m, b, lr=0.001, delta=0.0, eps=1e-08, weight_decay=0.0):
    """Kate: a scale-invariant AdaGrad without the square root.

    b2 = b^2 + g^2 + eps;  m = sqrt(m^2 + delta g^2 + g^2 / b2);  b = sqrt(b2)
    update = lr * m * g / b2 + lr * weight_decay * w

    Choudhury et al., "Remove that Square Root: A New Efficient Scale-Invariant Version of
    AdaGrad" (2024).
    """
    b2 = b * b + g * g + eps
    m = sqrt(m * m + delta * (g * g) + g * g / b2)
    return lr * m * g / b2 + lr * weight_decay * w, m, sqrt(b2)
'''

ADASMOOTH = '''
def adasmooth(w, g, prev: w, s, n, v, lr=0.001, beta1=0.5, beta2=0.99, eps=1e-06,
              weight_decay=0.0):
    """AdaSmooth: an RMSprop whose EMA rate follows the efficiency ratio of the weights' path.

    d = g + weight_decay * w;  diff = w - prev;  s = s + diff;  n = n + |diff|
    c = |s| / (n + eps) (beta2 - beta1) + (1 - beta2)   (the effective ratio, rescaled)
    v = interp(v, d^2, c^2);  update = lr * d / sqrt(v + eps);  prev = w

    Lu, "AdaSmooth: An Adaptive Learning Rate Method based on Effective Ratio" (2022).
    """
    d = g + weight_decay * w
    diff = w - prev
    s = s + diff
    n = n + abs(diff)
    c = abs(s) / (n + eps) * (beta2 - beta1) + (1 - beta2)
    v = interp(v, d * d, c * c)
    return lr * d / sqrt(v + eps), w, s, n, v
'''


def _adagrad(params, h):
    return torch.optim.Adagrad(params, lr=h["lr"], lr_decay=h["lr_decay"],
                               weight_decay=h["weight_decay"],
                               initial_accumulator_value=h["initial_accumulator_value"],
                               eps=h["eps"])


def _adadelta(params, h):
    return torch.optim.Adadelta(params, lr=h["lr"], rho=h["rho"], eps=h["eps"],
                                weight_decay=h["weight_decay"])


def _rmsprop(params, h, **options):
    return torch.optim.RMSprop(params, lr=h["lr"], alpha=h["alpha"], eps=h["eps"],
                               weight_decay=h["weight_decay"], **options)


def _rmsprop_centered(params, h):
    return _rmsprop(params, h, centered=True)


def _rmsprop_momentum(params, h):
    return _rmsprop(params, h, momentum=h["momentum"])


_RMSPROP_SETTINGS = (
    {},
    {"lr": 0.003, "alpha": 0.9, "weight_decay": 0.01},
    {"lr": 0.001, "alpha": 0.999, "eps": 1e-4},
)


def _kate(params, h):
    return po_class("Kate")(params, lr=h["lr"], delta=h["delta"], eps=h["eps"],
                            weight_decay=h["weight_decay"])


def _adasmooth(params, h):
    return po_class("AdaSmooth")(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                                 weight_decay=h["weight_decay"])


ENTRIES = (
    Entry(
        name="adagrad",
        signature=signatures.ADAGRAD,
        source=ADAGRAD,
        paper="Adaptive Subgradient Methods for Online Learning and Stochastic Optimization",
        authors="Duchi, Hazan & Singer",
        year=2011,
        references=(Reference("torch.optim.Adagrad", _adagrad),),
        settings=(
            {},
            {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.01},
            {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6},
        ),
        notes="Diagonal Adagrad; lr_decay and initial_accumulator_value are torch's additions.",
    ),
    Entry(
        name="adadelta",
        signature=signatures.ADADELTA,
        source=ADADELTA,
        paper="ADADELTA: An Adaptive Learning Rate Method",
        authors="Zeiler",
        year=2012,
        references=(Reference("torch.optim.Adadelta", _adadelta),),
        settings=(
            {},
            {"lr": 0.5, "rho": 0.95, "weight_decay": 0.01},
            {"rho": 0.8, "eps": 1e-4},
        ),
        notes="The paper has no lr (lr = 1); torch adds it as a multiplier of the step.",
    ),
    Entry(
        name="rmsprop",
        signature=signatures.RMSPROP,
        source=RMSPROP,
        paper="Lecture 6.5 - RMSProp: Divide the gradient by a running average of its recent "
              "magnitude",
        authors="Tieleman & Hinton",
        year=2012,
        references=(Reference("torch.optim.RMSprop", _rmsprop),),
        settings=_RMSPROP_SETTINGS,
        notes="eps is added to sqrt(v) (torch's form); v starts at 0 with no bias correction.",
    ),
    Entry(
        name="rmsprop_centered",
        signature=signatures.RMSPROP.with_defaults(centered=True),
        source=RMSPROP_CENTERED,
        paper="Generating Sequences With Recurrent Neural Networks",
        authors="Graves",
        year=2013,
        references=(Reference("torch.optim.RMSprop(centered=True)", _rmsprop_centered),),
        settings=_RMSPROP_SETTINGS,
        reference_overrides=("centered",),
        notes="Graves adds eps inside the square root and uses momentum; this is torch's form "
              "(eps outside the root; no momentum, see rmsprop_momentum).",
    ),
    Entry(
        name="rmsprop_momentum",
        signature=signatures.RMSPROP.with_defaults(momentum=0.9),
        source=RMSPROP_MOMENTUM,
        paper="Lecture 6.5 - RMSProp: Divide the gradient by a running average of its recent "
              "magnitude",
        authors="Tieleman & Hinton",
        year=2012,
        references=(Reference("torch.optim.RMSprop(momentum=0.9)", _rmsprop_momentum),),
        settings=(
            {},
            {"lr": 0.003, "alpha": 0.9, "weight_decay": 0.01, "momentum": 0.5},
            {"lr": 0.001, "alpha": 0.999, "eps": 1e-4, "momentum": 0.99},
        ),
        reference_overrides=("momentum",),
        notes="Default momentum 0.9 (torch's RMSprop default is 0, which is the rmsprop entry).",
    ),
    Entry(
        name="kate",
        source=KATE,
        paper="Remove that Square Root: A New Efficient Scale-Invariant Version of AdaGrad",
        authors="Choudhury et al.",
        year=2024,
        references=(Reference("pytorch_optimizer.Kate", _kate, requires="pytorch-optimizer"),),
        settings=({}, {"lr": 0.01, "delta": 0.1, "weight_decay": 0.01},
                  {"lr": 0.003, "delta": 0.5, "eps": 1e-4}),
        notes="eps is added to b^2 every step, as pytorch_optimizer. Decoupled weight decay.",
    ),
    Entry(
        name="adasmooth",
        source=ADASMOOTH,
        paper="AdaSmooth: An Adaptive Learning Rate Method based on Effective Ratio",
        authors="Lu",
        year=2022,
        references=(
            Reference("pytorch_optimizer.AdaSmooth", _adasmooth, requires="pytorch-optimizer"),
        ),
        settings=({}, {"lr": 0.01, "beta1": 0.3, "beta2": 0.9, "weight_decay": 0.01},
                  {"lr": 0.003, "beta1": 0.6, "beta2": 0.999, "eps": 1e-8}),
        notes="As pytorch_optimizer, the path sums s and n run over all steps; the paper "
              "measures the effective ratio over a window of recent steps. L2 weight decay.",
    ),
)
