"""Per-coordinate adaptive step sizes: Adagrad, Adadelta, RMSprop (plain, centered, momentum)
and Rprop, as torch.optim has them."""

from __future__ import annotations

import torch

from .base import Entry, Reference

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

RPROP = '''
def rprop(w, g, prev, step_size: lr, lr=0.01, etaminus=0.5, etaplus=1.2, step_size_min=1e-06,
          step_size_max=50.0):
    """Rprop: per-coordinate step sizes that grow while the gradient keeps its sign.

    s = sign(g * prev);  step_size *= etaplus where s > 0, etaminus where s < 0
    step_size = clamp(step_size, step_size_min, step_size_max)  (it starts at lr)
    where s < 0 the gradient is set to 0 (no step, and no sign change is seen next time)
    update = sign(g) * step_size;  prev = g

    Riedmiller & Braun, "A Direct Adaptive Method for Faster Backpropagation Learning: The
    RPROP Algorithm" (1993); torch.optim.Rprop's variant (iRprop-).
    """
    s = sign(g * prev)
    factor = where(s, etaplus, where(-s, etaminus, 1))
    step_size = clamp(step_size * factor, step_size_min, step_size_max)
    g = where(-s, 0, g)
    return sign(g) * step_size, g, step_size
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


def _rprop(params, h):
    return torch.optim.Rprop(params, lr=h["lr"], etas=(h["etaminus"], h["etaplus"]),
                             step_sizes=(h["step_size_min"], h["step_size_max"]))


_RMSPROP_SETTINGS = (
    {},
    {"lr": 0.003, "alpha": 0.9, "weight_decay": 0.01},
    {"lr": 0.001, "alpha": 0.999, "eps": 1e-4},
)

ENTRIES = (
    Entry(
        name="adagrad",
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
        name="rprop",
        source=RPROP,
        paper="A Direct Adaptive Method for Faster Backpropagation Learning: The RPROP Algorithm",
        authors="Riedmiller & Braun",
        year=1993,
        references=(Reference("torch.optim.Rprop", _rprop),),
        settings=(
            {},
            {"lr": 0.001, "etaminus": 0.3, "etaplus": 1.5},
            {"lr": 0.05, "step_size_min": 0.01, "step_size_max": 0.1},
        ),
        notes="torch's variant: after a sign change the gradient is zeroed (no weight "
              "backtracking, as in iRprop-). If etaminus were 1, torch would also zero the "
              "gradient where the sign product is 0; the program only where it is negative.",
    ),
)
